//! Library side of `mmctl`: Docker Engine orchestration (through bollard), backup and restore,
//! retention and systemd units. The binary (`src/main.rs`, `src/cmd/*`) only parses arguments
//! and calls into here. mmctl never reaches into the server's internals: it uses the server's
//! HTTP endpoints and files (the SQLCipher DB and its key file) only.

pub mod backup;
pub mod s3;
pub mod retention;
pub mod docker;
pub mod systemd;
