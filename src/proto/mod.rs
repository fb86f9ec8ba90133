//! Application protocols read from UDP payloads and reassembled TCP streams.

pub mod dns;
pub mod http;
pub mod tls;
