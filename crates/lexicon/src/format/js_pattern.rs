//! A small backtracking matcher for the subset of JavaScript regular expressions that the
//! reference's `iso-datestring-validator` builds at run time.
//!
//! That library splices a separator character taken from the *input* into its patterns,
//! so a faithful emulation has to interpret those patterns, including what a stray `|`,
//! `.` or `{` does to them and which separators make `new RegExp` throw. Matching runs on
//! UTF-16 code units, like JavaScript.

/// Why a pattern could not be compiled (JavaScript would throw a `SyntaxError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PatternError;

#[derive(Debug, Clone)]
enum Node {
    Unit(u16),
    /// `.`: anything but a line terminator.
    AnyButNewline,
    Class {
        ranges: Vec<(u16, u16)>,
        negated: bool,
    },
    Start,
    End,
    Group(Vec<Vec<Node>>),
    Look {
        negative: bool,
        alternatives: Vec<Vec<Node>>,
    },
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    alternatives: Vec<Vec<Node>>,
}

impl Pattern {
    /// Compiles `source` with JavaScript's (non-unicode, Annex B) rules.
    pub(crate) fn new(source: &str) -> Result<Pattern, PatternError> {
        let units: Vec<u16> = source.encode_utf16().collect();
        let mut parser = Parser {
            src: &units,
            pos: 0,
        };
        let alternatives = parser.disjunction()?;
        if parser.pos != units.len() {
            // An unmatched `)`.
            return Err(PatternError);
        }
        Ok(Pattern { alternatives })
    }

    /// `RegExp.prototype.test` without flags: a match starting anywhere.
    pub(crate) fn test(&self, input: &[u16]) -> bool {
        (0..=input.len()).any(|start| {
            let mut accept = |_| true;
            match_alternatives(&self.alternatives, input, start, &mut accept)
        })
    }
}

struct Parser<'a> {
    src: &'a [u16],
    pos: usize,
}

const fn unit(c: char) -> u16 {
    c as u16
}

impl Parser<'_> {
    fn peek(&self) -> Option<u16> {
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(unit(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn disjunction(&mut self) -> Result<Vec<Vec<Node>>, PatternError> {
        let mut alternatives = vec![self.alternative()?];
        while self.eat('|') {
            alternatives.push(self.alternative()?);
        }
        Ok(alternatives)
    }

    fn alternative(&mut self) -> Result<Vec<Node>, PatternError> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            if c == unit('|') || c == unit(')') {
                break;
            }
            let atom = self.atom()?;
            let quantified = self.quantifier(atom)?;
            nodes.push(quantified);
        }
        Ok(nodes)
    }

    /// Reads `{n}`, `{n,}` or `{n,m}` at the current position without consuming it.
    fn braced_quantifier(&self) -> Option<(u32, Option<u32>, usize)> {
        let mut i = self.pos;
        if self.src.get(i) != Some(&unit('{')) {
            return None;
        }
        i += 1;
        let number = |i: &mut usize| -> Option<u32> {
            let start = *i;
            let mut value: u32 = 0;
            while let Some(d) = self
                .src
                .get(*i)
                .filter(|d| (unit('0')..=unit('9')).contains(d))
            {
                value = value
                    .saturating_mul(10)
                    .saturating_add(u32::from(*d - unit('0')));
                *i += 1;
            }
            (*i > start).then_some(value)
        };
        let min = number(&mut i)?;
        let max = if self.src.get(i) == Some(&unit(',')) {
            i += 1;
            number(&mut i)
        } else {
            Some(min)
        };
        if self.src.get(i) != Some(&unit('}')) {
            return None;
        }
        Some((min, max, i + 1 - self.pos))
    }

    fn quantifier(&mut self, atom: Node) -> Result<Node, PatternError> {
        let (min, max) = match self.peek() {
            Some(c) if c == unit('*') => {
                self.pos += 1;
                (0, None)
            }
            Some(c) if c == unit('+') => {
                self.pos += 1;
                (1, None)
            }
            Some(c) if c == unit('?') => {
                self.pos += 1;
                (0, Some(1))
            }
            Some(c) if c == unit('{') => match self.braced_quantifier() {
                Some((min, max, len)) => {
                    if max.is_some_and(|max| max < min) {
                        return Err(PatternError);
                    }
                    self.pos += len;
                    (min, max)
                }
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        if matches!(atom, Node::Start | Node::End) {
            return Err(PatternError);
        }
        let greedy = !self.eat('?');
        // A second quantifier has nothing to repeat.
        if matches!(self.peek(), Some(c) if c == unit('*') || c == unit('+') || c == unit('?'))
            || self.braced_quantifier().is_some()
        {
            return Err(PatternError);
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        let c = self.peek().ok_or(PatternError)?;
        self.pos += 1;
        match char::from_u32(u32::from(c)).unwrap_or('\u{FFFD}') {
            '^' => Ok(Node::Start),
            '$' => Ok(Node::End),
            '.' => Ok(Node::AnyButNewline),
            '*' | '+' | '?' => Err(PatternError),
            '{' => {
                self.pos -= 1;
                if self.braced_quantifier().is_some() {
                    return Err(PatternError);
                }
                self.pos += 1;
                Ok(Node::Unit(c))
            }
            '(' => {
                let look = if self.eat('?') {
                    if self.eat('=') {
                        Some(false)
                    } else if self.eat('!') {
                        Some(true)
                    } else if self.eat(':') {
                        None
                    } else {
                        return Err(PatternError);
                    }
                } else {
                    None
                };
                let alternatives = self.disjunction()?;
                if !self.eat(')') {
                    return Err(PatternError);
                }
                Ok(match look {
                    Some(negative) => Node::Look {
                        negative,
                        alternatives,
                    },
                    None => Node::Group(alternatives),
                })
            }
            ')' => Err(PatternError),
            '[' => self.class(),
            '\\' => self.escape(false).map(|ranges| match ranges {
                Escaped::Unit(u) => Node::Unit(u),
                Escaped::Class(ranges, negated) => Node::Class { ranges, negated },
            }),
            _ => Ok(Node::Unit(c)),
        }
    }

    fn escape(&mut self, in_class: bool) -> Result<Escaped, PatternError> {
        let c = self.peek().ok_or(PatternError)?;
        self.pos += 1;
        let digits = vec![(unit('0'), unit('9'))];
        let word = vec![
            (unit('0'), unit('9')),
            (unit('A'), unit('Z')),
            (unit('_'), unit('_')),
            (unit('a'), unit('z')),
        ];
        Ok(match char::from_u32(u32::from(c)).unwrap_or('\u{FFFD}') {
            'd' => Escaped::Class(digits, false),
            'D' => Escaped::Class(digits, true),
            'w' => Escaped::Class(word, false),
            'W' => Escaped::Class(word, true),
            't' => Escaped::Unit(0x09),
            'n' => Escaped::Unit(0x0A),
            'r' => Escaped::Unit(0x0D),
            // Backreferences, word boundaries, octal and unicode escapes never occur in the
            // emulated patterns unless a separator injects them; give up on those.
            c if c.is_ascii_alphanumeric() && !in_class => return Err(PatternError),
            c if c.is_ascii_alphanumeric() => return Err(PatternError),
            _ => Escaped::Unit(c),
        })
    }

    fn class(&mut self) -> Result<Node, PatternError> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        loop {
            let c = self.peek().ok_or(PatternError)?;
            self.pos += 1;
            if c == unit(']') {
                break;
            }
            let low = if c == unit('\\') {
                match self.escape(true)? {
                    Escaped::Unit(u) => u,
                    Escaped::Class(class, false) => {
                        ranges.extend(class);
                        continue;
                    }
                    Escaped::Class(..) => return Err(PatternError),
                }
            } else {
                c
            };
            let is_range = self.peek() == Some(unit('-'))
                && self.src.get(self.pos + 1).is_some_and(|n| *n != unit(']'));
            if is_range {
                self.pos += 1;
                let h = self.peek().ok_or(PatternError)?;
                self.pos += 1;
                let high = if h == unit('\\') {
                    match self.escape(true)? {
                        Escaped::Unit(u) => u,
                        Escaped::Class(..) => return Err(PatternError),
                    }
                } else {
                    h
                };
                if high < low {
                    return Err(PatternError);
                }
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
        Ok(Node::Class { ranges, negated })
    }
}

enum Escaped {
    Unit(u16),
    Class(Vec<(u16, u16)>, bool),
}

fn is_line_terminator(u: u16) -> bool {
    matches!(u, 0x0A | 0x0D | 0x2028 | 0x2029)
}

/// Matches a single-unit node at `pos`.
fn match_unit(node: &Node, input: &[u16], pos: usize) -> Option<bool> {
    let u = input.get(pos).copied();
    Some(match node {
        Node::Unit(c) => u == Some(*c),
        Node::AnyButNewline => u.is_some_and(|u| !is_line_terminator(u)),
        Node::Class { ranges, negated } => {
            u.is_some_and(|u| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&u)) != *negated)
        }
        _ => return None,
    })
}

fn match_alternatives(
    alternatives: &[Vec<Node>],
    input: &[u16],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    alternatives
        .iter()
        .any(|seq| match_sequence(seq, input, pos, k))
}

fn match_sequence(
    seq: &[Node],
    input: &[u16],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let Some((first, rest)) = seq.split_first() else {
        return k(pos);
    };
    let mut next = |p: usize| match_sequence(rest, input, p, k);
    match_node(first, input, pos, &mut next)
}

fn match_node(node: &Node, input: &[u16], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    if let Some(matched) = match_unit(node, input, pos) {
        return matched && k(pos + 1);
    }
    match node {
        Node::Start => pos == 0 && k(pos),
        Node::End => pos == input.len() && k(pos),
        Node::Group(alternatives) => match_alternatives(alternatives, input, pos, k),
        Node::Look {
            negative,
            alternatives,
        } => {
            let mut accept = |_| true;
            let found = match_alternatives(alternatives, input, pos, &mut accept);
            found != *negative && k(pos)
        }
        Node::Repeat {
            node,
            min,
            max,
            greedy,
        } => match_repeat(node, *min, *max, *greedy, 0, input, pos, k),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn match_repeat(
    node: &Node,
    min: u32,
    max: Option<u32>,
    greedy: bool,
    count: u32,
    input: &[u16],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let can_stop = count >= min;
    let can_continue = max.is_none_or(|max| count < max);
    let try_more = |k: &mut dyn FnMut(usize) -> bool| {
        let mut more = |p: usize| {
            // An empty iteration past the minimum would loop forever; JS rejects it too.
            if p == pos && count >= min {
                return false;
            }
            match_repeat(node, min, max, greedy, count + 1, input, p, k)
        };
        can_continue && match_node(node, input, pos, &mut more)
    };
    // Greedy tries one more iteration first; lazy tries stopping first.
    let first_more = greedy;
    if first_more && try_more(k) {
        return true;
    }
    if can_stop && k(pos) {
        return true;
    }
    !first_more && try_more(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(pattern: &str, input: &str) -> Result<bool, PatternError> {
        let units: Vec<u16> = input.encode_utf16().collect();
        Ok(Pattern::new(pattern)?.test(&units))
    }

    #[test]
    fn basics() {
        assert_eq!(test("^a[0-9]{2}$", "a12"), Ok(true));
        assert_eq!(test("^a[0-9]{2}$", "a123"), Ok(false));
        assert_eq!(test("^(?!0{4})[0-9]{4}$", "0000"), Ok(false));
        assert_eq!(test("^(?!0{4})[0-9]{4}$", "0001"), Ok(true));
        assert_eq!(test("^2(?=[0-3])[0-9]$", "23"), Ok(true));
        assert_eq!(test("^2(?=[0-3])[0-9]$", "24"), Ok(false));
        assert_eq!(test("^(a|b)+c?$", "abab"), Ok(true));
        assert_eq!(test("^x{4}?y", "xxxxy"), Ok(true));
        assert_eq!(test("b", "abc"), Ok(true));
        assert_eq!(test("^[1,3-9]$", ","), Ok(true));
        assert_eq!(test("^a{b$", "a{b"), Ok(true));
        assert_eq!(test("a{4}*", "a"), Err(PatternError));
        assert_eq!(test("a(b", "a"), Err(PatternError));
        assert_eq!(test("a)b", "a"), Err(PatternError));
        assert_eq!(test("(?=?x)", "a"), Err(PatternError));
    }
}
