//! Compiles proto/sai.proto for the gRPC rows of `compare`, with the protoc that
//! the protoc-bin-vendored crate ships (nothing to install).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/sai.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build reads PROTOC; this build script is single-threaded.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::compile_protos("proto/sai.proto")?;
    Ok(())
}
