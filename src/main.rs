//! The `isobench` command line.
fn main() {
    println!("isobench (under construction)");
}
