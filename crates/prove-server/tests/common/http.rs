//! A minimal blocking HTTP/1.1 client for the socket tests and the load bench: one request
//! per connection (`Connection: close`), the status and the body back.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// One request to `addr`; the status and the body.
pub fn call(addr: &str, method: &str, path: &str, body: &[u8], headers: &[&str]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status_line = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, resp[split + 4..].to_vec())
}

/// A JSON request; the status and the JSON body (`null` when the body is not JSON).
pub fn json(addr: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, b) = call(addr, method, path, body.to_string().as_bytes(), &[]);
    (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
}
