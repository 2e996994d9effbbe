//! Protobuf encoding of an OTLP `ExportTraceServiceRequest`: the few messages and wire types
//! it needs, written by hand rather than generated (no protoc, no prost in the core).
//! Field numbers are those of `opentelemetry/proto/{collector/trace,trace,common,resource}/v1`.

use super::span::{SpanData, Value};

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    tag(buf, field, LEN);
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

fn string(buf: &mut Vec<u8>, field: u32, s: &str) {
    bytes(buf, field, s.as_bytes());
}

fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    tag(buf, field, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
}

fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    tag(buf, field, VARINT);
    varint(buf, v);
}

/// A nested message, encoded by `f`.
fn message(buf: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    f(&mut inner);
    bytes(buf, field, &inner);
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value = 1; int_value = 3 }`.
fn key_value(buf: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    message(buf, field, |kv| {
        string(kv, 1, key);
        message(kv, 2, |any| match value {
            Value::Str(s) => string(any, 1, s),
            // int64 is a two's complement varint.
            Value::Int(i) => uint(any, 3, *i as u64),
        });
    });
}

/// `Span`: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6,
/// start_time_unix_nano = 7, end_time_unix_nano = 8, attributes = 9, status = 15
/// (`Status { message = 2; code = 3 }`).
fn span(buf: &mut Vec<u8>, s: &SpanData) {
    message(buf, 2, |m| {
        bytes(m, 1, &s.trace_id);
        bytes(m, 2, &s.span_id);
        if let Some(parent) = &s.parent_span_id {
            bytes(m, 4, parent);
        }
        string(m, 5, &s.name);
        uint(m, 6, s.kind as u64);
        fixed64(m, 7, s.start_unix_nanos);
        fixed64(m, 8, s.end_unix_nanos);
        for (key, value) in &s.attributes {
            key_value(m, 9, key, value);
        }
        message(m, 15, |st| {
            if let Some(msg) = &s.status_message {
                string(st, 2, msg);
            }
            uint(st, 3, s.status as u64);
        });
    });
}

/// `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 }` with one
/// `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }`, the
/// resource carrying `service.name`, and one `ScopeSpans { InstrumentationScope scope = 1;
/// repeated Span spans = 2 }` for turnout.
pub(crate) fn export_request(service_name: &str, spans: &[SpanData]) -> Vec<u8> {
    let mut out = Vec::new();
    message(&mut out, 1, |rs| {
        message(rs, 1, |resource| {
            key_value(
                resource,
                1,
                "service.name",
                &Value::Str(service_name.to_string()),
            );
        });
        message(rs, 2, |ss| {
            message(ss, 1, |scope| {
                string(scope, 1, "turnout");
                string(scope, 2, env!("CARGO_PKG_VERSION"));
            });
            for s in spans {
                span(ss, s);
            }
        });
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        let mut buf = Vec::new();
        varint(&mut buf, 1);
        varint(&mut buf, 300);
        varint(&mut buf, u64::MAX);
        assert_eq!(&buf[..3], &[0x01, 0xAC, 0x02]);
        assert_eq!(buf.len(), 3 + 10);
        assert_eq!(buf[buf.len() - 1], 0x01);
    }

    #[test]
    fn a_negative_int_is_ten_bytes() {
        let mut buf = Vec::new();
        key_value(&mut buf, 9, "k", &Value::Int(-1));
        // tag, len, [tag "k"], [tag len [tag + 10 varint bytes]]
        assert_eq!(buf.len(), 2 + 3 + 2 + 11);
    }
}
