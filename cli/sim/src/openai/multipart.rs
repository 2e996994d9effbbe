//! A small `multipart/form-data` reader (RFC 7578): enough for file uploads.

/// One form field.
pub(crate) struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| unquote(value.trim()).to_owned())
            .filter(|b| !b.is_empty())
    })
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The parts of `body`, or what is wrong with it.
pub(crate) fn parse<'a>(boundary: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let start = find(body, delimiter).ok_or("no multipart boundary in the body")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a multipart boundary is not followed by CRLF")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("a multipart part has no header end")?;
        let head = std::str::from_utf8(&rest[..head_end])
            .map_err(|_| "multipart part headers are not UTF-8")?;
        let content = &rest[head_end + 4..];
        let mut close = Vec::with_capacity(delimiter.len() + 2);
        close.extend_from_slice(b"\r\n");
        close.extend_from_slice(delimiter);
        let end = find(content, &close).ok_or("the multipart body has no closing boundary")?;
        parts.push(part(head, &content[..end])?);
        rest = &content[end + close.len()..];
    }
}

fn part<'a>(head: &str, data: &'a [u8]) -> Result<Part<'a>, String> {
    let mut name = None;
    let mut filename = None;
    for line in head.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        if header.trim().eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                let Some((key, v)) = param.split_once('=') else {
                    continue;
                };
                match key.trim() {
                    "name" => name = Some(unquote(v.trim()).to_owned()),
                    "filename" => filename = Some(unquote(v.trim()).to_owned()),
                    _ => {}
                }
            }
        }
    }
    Ok(Part {
        name: name.ok_or("a multipart part has no name")?,
        filename,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_is_read_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;boundary=x").as_deref(),
            Some("x")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn parts_keep_their_bytes() {
        let body = b"preamble\r\n--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n{\"a\":1}\r\n\x00\xff\r\n--B--\r\n";
        let parts = parse("B", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "purpose");
        assert_eq!(parts[0].data, b"batch");
        assert_eq!(parts[1].filename.as_deref(), Some("in.jsonl"));
        assert_eq!(parts[1].data, b"{\"a\":1}\r\n\x00\xff");
    }

    #[test]
    fn broken_bodies_are_errors() {
        assert!(parse("B", b"no boundary").is_err());
        assert!(
            parse(
                "B",
                b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx"
            )
            .is_err()
        );
        assert!(
            parse(
                "B",
                b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--"
            )
            .is_err()
        );
    }
}
