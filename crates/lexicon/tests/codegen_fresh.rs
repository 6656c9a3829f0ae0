//! The committed `generated.rs` must be exactly what the generator writes today.

#[test]
fn generated_types_match_the_lexicons() {
    let root = greenlight_lexgen::workspace_root();
    let expected = match greenlight_lexgen::generate_workspace(&root) {
        Ok(source) => source,
        Err(err) => panic!("the lexicons do not generate: {err}"),
    };
    let path = root.join(greenlight_lexgen::GENERATED_FILE);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != expected {
        let first_difference = committed
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(expected.lines().count()));
        panic!(
            "{} is stale (first difference at line {}): run `cargo run -p greenlight-lexgen`",
            path.display(),
            first_difference + 1
        );
    }
}
