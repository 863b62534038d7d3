//! The object stores and the package mirror that fills them, one test binary: the S3 store against
//! a real `moto_server` (`store_s3`) and the mirror from a local HTTP server into S3 and directory
//! stores (`sync`).

#[path = "../harness/mod.rs"]
mod harness;

mod store_s3;
mod sync;
