//! Form markup every action page shares: labelled fields with their errors beside them,
//! the CSRF token, and the values a person typed kept across a failed submit.

use std::collections::HashMap;

use crate::html::Markup;

/// What a person typed, and what was wrong with it, field by field.
#[derive(Debug, Default, Clone)]
pub struct Filled {
    /// Field name → value as typed.
    pub values: HashMap<String, String>,
    /// Field name → why it was refused.
    pub errors: HashMap<String, String>,
    /// A message about the whole form (a refused write, a server answer).
    pub problem: Option<String>,
}

impl Filled {
    /// Values with no errors yet.
    pub fn from_values(values: HashMap<String, String>) -> Filled {
        Filled {
            values,
            ..Filled::default()
        }
    }

    /// The value typed for `name` (trimmed), or empty.
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(|v| v.trim()).unwrap_or("")
    }

    /// Records that `name` was refused because `why`.
    pub fn refuse(&mut self, name: &str, why: impl Into<String>) {
        self.errors.insert(name.to_owned(), why.into());
    }

    /// Whether anything was refused.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.problem.is_some()
    }
}

/// Opens a form posting to `action` with the CSRF `token`.
pub fn open(m: &mut Markup, action: &str, token: &str, label: &str) {
    m.raw("<form method=\"post\" class=\"action\" action=\"")
        .text(action)
        .raw("\" aria-label=\"")
        .text(label)
        .raw("\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(token)
        .raw("\">");
}

/// The whole-form problem, if any, announced to screen readers.
pub fn problem(m: &mut Markup, filled: &Filled) {
    if let Some(problem) = &filled.problem {
        m.raw("<p class=\"problem\" role=\"alert\">")
            .text(problem)
            .raw("</p>");
    }
}

/// The kinds of input a form uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// One line of text.
    Text,
    /// A URL.
    Url,
    /// Several lines.
    Area,
    /// A date.
    Date,
}

/// A labelled field named `name`, with `hint` under the label and its error (if any) tied
/// to it with `aria-describedby`.
pub fn field(
    m: &mut Markup,
    filled: &Filled,
    name: &str,
    label: &str,
    hint: Option<&str>,
    input: Input,
    required: bool,
) {
    let id = format!("f-{name}");
    let error = filled.errors.get(name);
    m.raw("<div class=\"field\"><label for=\"")
        .text(&id)
        .raw("\">")
        .text(label)
        .raw("</label>");
    if let Some(hint) = hint {
        m.raw("<p class=\"hint\" id=\"")
            .text(&id)
            .raw("-hint\">")
            .text(hint)
            .raw("</p>");
    }
    if let Some(error) = error {
        m.raw("<p class=\"field-error\" id=\"")
            .text(&id)
            .raw("-error\">")
            .text(error)
            .raw("</p>");
    }
    let described = match (hint.is_some(), error.is_some()) {
        (true, true) => format!("{id}-hint {id}-error"),
        (true, false) => format!("{id}-hint"),
        (false, true) => format!("{id}-error"),
        (false, false) => String::new(),
    };
    let value = filled.values.get(name).map(String::as_str).unwrap_or("");
    match input {
        Input::Area => {
            m.raw("<textarea rows=\"8\" id=\"")
                .text(&id)
                .raw("\" name=\"")
                .text(name)
                .raw("\"");
        }
        _ => {
            let kind = match input {
                Input::Url => "url",
                Input::Date => "date",
                _ => "text",
            };
            m.raw("<input type=\"")
                .text(kind)
                .raw("\" id=\"")
                .text(&id)
                .raw("\" name=\"")
                .text(name)
                .raw("\" value=\"")
                .text(value)
                .raw("\"");
        }
    }
    if !described.is_empty() {
        m.raw(" aria-describedby=\"").text(&described).raw("\"");
    }
    if error.is_some() {
        m.raw(" aria-invalid=\"true\"");
    }
    if required {
        m.raw(" required");
    }
    m.raw(">");
    if input == Input::Area {
        m.text(value).raw("</textarea>");
    }
    m.raw("</div>");
}

/// A hidden field.
pub fn hidden(m: &mut Markup, name: &str, value: &str) {
    m.raw("<input type=\"hidden\" name=\"")
        .text(name)
        .raw("\" value=\"")
        .text(value)
        .raw("\">");
}

/// The submit button and the end of the form.
pub fn close(m: &mut Markup, button: &str) {
    m.raw("<button type=\"submit\">")
        .text(button)
        .raw("</button></form>");
}
