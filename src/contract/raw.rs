//! A request whose path goes out byte for byte. HTTP clients resolve `..`
//! (and its percent-encoded forms) before sending, as URL parsing says they
//! must; a security variant that asks what a service does with a literal
//! `..` owner segment needs it sent as written. HTTP/1.1 over plain TCP,
//! `Connection: close`, the answer read to the end (bounded) and parsed.

use super::client::{BodyRecorder, Request};
use super::exchange::Exchange;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Head and body bytes read at most (the body recorder keeps less).
const MAX_READ: usize = 8 * 1024 * 1024 + 64 * 1024;

/// What came back: the head's status and headers, and the body's bytes.
pub(super) struct RawAnswer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
    /// False when the body went past the bound.
    complete: bool,
}

pub(super) async fn send(
    base: &str,
    spec: &Request,
    headers: &[(String, String)],
    timeout: std::time::Duration,
) -> Result<RawAnswer, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("not sent: a path byte for byte needs a plain http:// base URL, not {base}"))?
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("could not connect to {base}: {e}"))?;
        stream.write_all(&request_bytes(&authority, spec, headers)).await.map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| format!("answer cut off: {e}"))?;
            if n == 0 || bytes.len() >= MAX_READ {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        parse(&bytes)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("timed out after {} waiting for {base}", crate::clock::human(timeout))),
    }
}

fn request_bytes(authority: &str, spec: &Request, headers: &[(String, String)]) -> Vec<u8> {
    let mut head =
        format!("{} {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n", spec.method, spec.path);
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    let body = spec.body.as_deref().unwrap_or_default();
    if spec.body.is_some() {
        head += "Content-Type: application/json\r\n";
    }
    head += &format!("Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn parse(bytes: &[u8]) -> Result<RawAnswer, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err("the connection closed before a whole answer came".into())
        }
        Err(e) => return Err(format!("the answer is not HTTP: {e}")),
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let rest = &bytes[head_len..];
    let chunked = header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|l| l.trim().parse::<usize>().ok());
    let (body, complete) = match (chunked, length) {
        (true, _) => dechunk(rest),
        (false, Some(length)) => (rest[..length.min(rest.len())].to_vec(), rest.len() >= length),
        (false, None) => (rest.to_vec(), bytes.len() < MAX_READ),
    };
    Ok(RawAnswer {
        status: response.code.unwrap_or_default(),
        content_type: header("content-type"),
        location: header("location"),
        body,
        complete,
    })
}

/// The body of a chunked answer, and whether its last chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else { return (body, false) };
        let size = std::str::from_utf8(&rest[..line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or_default().trim(), 16).ok());
        let Some(size) = size else { return (body, false) };
        if size == 0 {
            return (body, true);
        }
        let start = line_end + 2;
        let Some(chunk) = rest.get(start..start + size) else {
            body.extend_from_slice(&rest[start.min(rest.len())..]);
            return (body, false);
        };
        body.extend_from_slice(chunk);
        rest = rest.get(start + size + 2..).unwrap_or_default();
    }
}

/// The answer (or why there was none) into the exchange.
pub(super) fn record(answer: Result<RawAnswer, String>, exchange: &mut Exchange) {
    match answer {
        Ok(answer) => {
            exchange.status = Some(answer.status);
            exchange.content_type = answer.content_type;
            exchange.location = answer.location;
            let mut body = BodyRecorder::default();
            body.take(&answer.body);
            if answer.complete {
                body.complete();
            }
            body.into_exchange(exchange);
        }
        Err(error) => exchange.error = Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_by_length_by_chunks_and_to_the_close() {
        let a =
            parse(b"HTTP/1.1 302 Found\r\nLocation: /auth/login\r\nContent-Length: 9\r\n\r\nredirect\nXX")
                .unwrap();
        assert_eq!(
            (a.status, a.location.as_deref(), a.body.as_slice(), a.complete),
            (302, Some("/auth/login"), &b"redirect\n"[..], true)
        );
        let b = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2;x=y\r\nef\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((b.body.as_slice(), b.complete), (&b"abcdef"[..], true));
        let c = parse(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>").unwrap();
        assert_eq!(
            (c.status, c.content_type.as_deref(), c.body.as_slice()),
            (404, Some("text/html"), &b"<html>"[..])
        );
        assert!(parse(b"HTTP/1.1 200 O").is_err());
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        let (cut, complete) = dechunk(b"10\r\nshort");
        assert_eq!((cut.as_slice(), complete), (&b"short"[..], false));
    }

    #[test]
    fn the_path_goes_out_as_written() {
        let spec =
            Request::new("DELETE", "/internal/api/users/../git-tokens/x", super::super::AuthMode::AsHeaders)
                .body("{}");
        let bytes = request_bytes("127.0.0.1:9", &spec, &[("X-A".into(), "1".into())]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("DELETE /internal/api/users/../git-tokens/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"),
            "{text}"
        );
        assert!(text.contains("X-A: 1\r\n") && text.ends_with("Content-Length: 2\r\n\r\n{}"), "{text}");
    }
}
