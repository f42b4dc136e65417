//! `--metrics ADDR`: the run loop's HTTP endpoint. Each connection is one scrape, served in
//! the loop between events (no thread; the maps are read as at exit): `GET /metrics` gets
//! every map as OpenMetrics text (`output::metrics`), anything else a 404.

use crate::output::metrics::{render, CONTENT_TYPE};
use crate::output::value::MapDump;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// How long a client may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers every connection waiting on `listener` (it is non-blocking). `dumps` reads the maps.
pub(super) fn serve(
    listener: &TcpListener,
    mut dumps: impl FnMut() -> Result<Vec<MapDump>, String>,
) {
    while let Ok((stream, _)) = listener.accept() {
        // A client that goes away mid-scrape costs it its answer, not the run.
        let _ = answer(stream, &mut dumps);
    }
}

fn answer(
    mut stream: TcpStream,
    dumps: &mut impl FnMut() -> Result<Vec<MapDump>, String>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        )
    } else if path != "/metrics" {
        (
            "404 Not Found",
            "text/plain",
            "rtrace serves /metrics\n".to_string(),
        )
    } else {
        match dumps() {
            Ok(d) => ("200 OK", CONTENT_TYPE, render(&d)),
            Err(e) => ("500 Internal Server Error", "text/plain", format!("{e}\n")),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}
