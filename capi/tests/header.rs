//! `include/sairing.h` is exactly what cbindgen generates from this crate now:
//! a change to the C ABI that is not in the committed header fails here.
//! `SAIRING_BLESS=1 cargo test -p sairing-capi --test header` rewrites it.

use std::path::Path;

#[test]
fn the_committed_header_is_what_the_code_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8");
    // Every type C sees is named sairing_*: one missing from cbindgen.toml's
    // renames would come out as its Rust name.
    let camel: Vec<&str> = generated
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| w.starts_with("Sairing"))
        .collect();
    assert!(
        camel.is_empty(),
        "add these to cbindgen.toml's [export.rename]: {camel:?}"
    );
    let path = dir.join("include/sairing.h");
    if std::env::var_os("SAIRING_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from what the code generates; rerun with SAIRING_BLESS=1 and commit it",
        path.display()
    );
}
