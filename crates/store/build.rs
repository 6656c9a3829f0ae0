// `sqlx::migrate!` embeds the migrations when this crate compiles; without this a new
// migration file would not rebuild it, and a binary would start with the old set.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
