//! `cargo run -p greenlight-lexgen`: regenerates `crates/lexicon/src/generated.rs`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = greenlight_lexgen::workspace_root();
    let source = match greenlight_lexgen::generate_workspace(&root) {
        Ok(source) => source,
        Err(err) => {
            eprintln!("greenlight-lexgen: {err}");
            return ExitCode::FAILURE;
        }
    };
    let target = root.join(greenlight_lexgen::GENERATED_FILE);
    let unchanged = std::fs::read_to_string(&target).is_ok_and(|old| old == source);
    if unchanged {
        println!("{} is up to date", greenlight_lexgen::GENERATED_FILE);
        return ExitCode::SUCCESS;
    }
    if let Err(err) = std::fs::write(&target, source) {
        eprintln!(
            "greenlight-lexgen: cannot write {}: {err}",
            target.display()
        );
        return ExitCode::FAILURE;
    }
    println!("wrote {}", greenlight_lexgen::GENERATED_FILE);
    ExitCode::SUCCESS
}
