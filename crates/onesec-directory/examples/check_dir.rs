//! Validates directory folders: prints each one's summary and warnings, or its first error.
//!
//! `cargo run -p onesec-directory --example check_dir -- examples/northwind`

fn main() {
    for arg in std::env::args().skip(1) {
        match onesec_directory::Directory::load_dir(&arg) {
            Ok(d) => println!("{arg}: OK {}\n  warnings: {:?}", d.summary(), d.warnings()),
            Err(e) => println!("{arg}: ERR {e}"),
        }
    }
}
