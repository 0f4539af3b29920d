//! The SQL migrations are embedded at compile time (refinery's `embed_migrations!`), which cargo
//! cannot see: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
