//! The migrations are embedded at compile time (`sqlx::migrate!`), and cargo does not see a new
//! file there by itself: without this a new migration is left out of the next build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
