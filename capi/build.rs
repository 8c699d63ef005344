//! The shared library's SONAME carries the ABI version (`libsairing.so.1`),
//! so that a program linked against one ABI never loads another.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsairing.so.1");
}
