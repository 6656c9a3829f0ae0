//! Embeds every lexicon document (the repository's `lexicons/` plus the external ones kept
//! in this crate) so the catalog needs no files at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let roots = [
        ("lexicons", manifest.join("../../lexicons")),
        ("crates/lexicon/external", manifest.join("external")),
    ];
    let mut files = Vec::new();
    for (label, root) in &roots {
        println!("cargo:rerun-if-changed={}", root.display());
        collect(label, root, &mut files);
    }
    files.sort();
    let mut out = String::from("/// Every embedded lexicon document: (path, JSON text).\n");
    out.push_str("pub(crate) static EMBEDDED_DOCUMENTS: &[(&str, &str)] = &[\n");
    for (name, file) in &files {
        // Directories are watched above, but cargo only notices changed *contents* of
        // files it was told about individually.
        println!("cargo:rerun-if-changed={}", file.display());
        let absolute = file.display().to_string();
        let _ = writeln!(out, "    ({name:?}, include_str!({absolute:?})),");
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(err) = std::fs::write(out_dir.join("embedded_documents.rs"), out) {
        panic!("cannot write embedded_documents.rs: {err}");
    }
}

fn collect(label: &str, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = entry.file_name().to_string_lossy().into_owned();
            collect(&format!("{label}/{name}"), &path, files);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            if let Ok(canonical) = path.canonicalize() {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((format!("{label}/{name}"), canonical));
            }
        }
    }
}
