//! Object affinity (SEMANTICS.md, *Under the official SDKs*): an object made on one side —
//! an uploaded file, a batch, a stored response, a vector store, a thread — exists on that side
//! only, so every later request that names it goes there.

use parking_lot::Mutex;
use serde_json::Value;

use crate::cache::Lru;
use crate::environment::Side;

/// Prefixes of the ids of objects that live on one side.
const PREFIXES: [&str; 11] = [
    "file-", "batch_", "resp_", "vs_", "asst_", "thread_", "msg_", "run_", "ftjob-", "upload_",
    "conv_",
];

/// Request body fields that name objects (a string, a list of strings, or `{id}`).
const FIELDS: [&str; 10] = [
    "previous_response_id",
    "file_id",
    "input_file_id",
    "file_ids",
    "vector_store_ids",
    "thread_id",
    "assistant_id",
    "conversation",
    "training_file",
    "validation_file",
];

/// How many ids one process remembers [100 000].
pub(crate) const CAPACITY: usize = 100_000;

/// Which side holds which object: the ids recorded as their answers arrived.
#[derive(Debug)]
pub(crate) struct Affinity {
    sides: Mutex<Lru<String, Side>>,
}

impl Affinity {
    /// An empty map of at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            sides: Mutex::new(Lru::new(capacity)),
        }
    }

    /// Notes that the object `id` lives on `side`.
    pub fn record(&self, id: &str, side: Side) {
        self.sides.lock().put(id.to_string(), side);
    }

    /// The objects the request names that are not known here.
    pub fn unknown_ids(&self, path: &str, body: Option<&Value>) -> Vec<String> {
        let ids = named_ids(path, body);
        if ids.is_empty() {
            return Vec::new();
        }
        let mut sides = self.sides.lock();
        ids.into_iter()
            .filter(|id| sides.get(&id.to_string()).is_none())
            .map(str::to_string)
            .collect()
    }

    /// The side of the first object the request names that is known here, with its id; and
    /// whether it names an object not known here.
    pub fn lookup(&self, path: &str, body: Option<&Value>) -> Lookup {
        let mut found = Lookup::default();
        // Most requests name no object: they never take the lock.
        let ids = named_ids(path, body);
        if ids.is_empty() {
            return found;
        }
        let mut sides = self.sides.lock();
        for id in ids {
            match sides.get(&id.to_string()) {
                Some(side) if found.side.is_none() => found.side = Some(*side),
                Some(_) => {}
                None => found.unknown = true,
            }
        }
        found
    }
}

/// What [`Affinity::lookup`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// The side holding a named object.
    pub side: Option<Side>,
    /// The request names an object no answer here has shown.
    pub unknown: bool,
}

/// The longest id remembered: real ids are a few dozen bytes, and the affinity map holds up
/// to 100 000 of them, so an answer's huge "id" must not take that memory.
const MAX_ID_BYTES: usize = 256;

/// Whether `id` looks like the id of an object that lives on one side.
pub(crate) fn is_object_id(id: &str) -> bool {
    // Every prefix ends at its one separator, so the id's first separator says which prefix
    // it can have: one comparison per prefix only for words with a separator.
    id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .position(|b| b == b'-' || b == b'_')
            .is_some_and(|cut| id.len() > cut + 1 && PREFIXES.contains(&&id[..=cut]))
}

/// Whether a top-level request body field of this name names objects.
pub(crate) fn is_object_field(name: &str) -> bool {
    FIELDS.contains(&name)
}

/// The ids of objects a request names: in its path, and in the body fields that name objects.
pub(crate) fn named_ids<'a>(path: &'a str, body: Option<&'a Value>) -> Vec<&'a str> {
    let end = memchr::memchr(b'?', path.as_bytes()).unwrap_or(path.len());
    let path = &path[..end];
    let bytes = path.as_bytes();
    let mut ids = Vec::new();
    // Only a segment with a separator can be an id: the path is searched for separators, and
    // only their segments are looked at (most paths, `/chat/completions`, have none).
    let mut from = 0;
    while let Some(at) = memchr::memchr2(b'-', b'_', &bytes[from..]).map(|i| from + i) {
        let start = memchr::memrchr(b'/', &bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'/', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let segment = &path[start..end];
        if is_object_id(segment) {
            ids.push(segment);
        }
        from = end;
    }
    if let Some(Value::Object(map)) = body {
        // The body's keys against the short list (no hashing): bodies have a handful of keys.
        for (key, value) in map {
            if !is_object_field(key) {
                continue;
            }
            // A field names objects by a string, a list of strings, or an object's `id`.
            let named: &[Value] = match value {
                Value::Array(items) => items,
                Value::Object(o) => o.get("id").map(std::slice::from_ref).unwrap_or_default(),
                one => std::slice::from_ref(one),
            };
            ids.extend(
                named
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|id| is_object_id(id)),
            );
        }
    }
    ids
}

/// The id of the object an answer created, if it is one that lives on one side.
pub(crate) fn created_id(answer: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Created {
        id: Option<String>,
    }
    let id = serde_json::from_slice::<Created>(answer).ok()?.id?;
    is_object_id(&id).then_some(id)
}

/// The id of the response a Responses API stream announces in its `response.created` event.
pub(crate) fn created_in_event(event: &crate::protocol::SseEvent) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Created {
        response: Created2,
    }
    #[derive(serde::Deserialize)]
    struct Created2 {
        id: Option<String>,
    }
    let named = event.event.as_deref() == Some("response.created")
        || (event.event.is_none() && event.data.contains("\"type\":\"response.created\""));
    if !named {
        return None;
    }
    let id = serde_json::from_str::<Created>(&event.data)
        .ok()?
        .response
        .id?;
    is_object_id(&id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_found_in_paths_and_fields() {
        let body = json!({
            "input_file_id": "file-abc",
            "vector_store_ids": ["vs_1", "vs_2"],
            "conversation": {"id": "conv_9"},
            "model": "gpt-4.1",
            "previous_response_id": "not-an-id"
        });
        let ids = named_ids("/batches/batch_77/cancel?x=1", Some(&body));
        assert_eq!(ids, ["batch_77", "file-abc", "vs_1", "vs_2", "conv_9"]);
        assert!(named_ids("/chat/completions", None).is_empty());
    }

    #[test]
    fn path_ids_are_the_segments_that_are_ids() {
        let paths = [
            "",
            "/",
            "/chat/completions",
            "/responses/resp_1",
            "/responses/resp_1/input_items",
            "/files/file-abc/content?purpose=x_y",
            "/batches/batch_77/cancel",
            "resp_1",
            "/vector_stores/vs_a/files/file-b",
            "//resp_x//",
            "/fine_tuning/jobs/ftjob-1/events",
            "/threads/thread_a/runs/run_b/steps/step_c",
            "/x-/_/resp_/resp__/file--",
            "/models/gpt-4.1-mini",
        ];
        for path in paths {
            let plain: Vec<&str> = path
                .split('?')
                .next()
                .unwrap_or("")
                .split('/')
                .filter(|s| is_object_id(s))
                .collect();
            assert_eq!(named_ids(path, None), plain, "{path}");
        }
        assert!(!is_object_id("file-"), "a bare prefix is no id");
    }

    #[test]
    fn the_separator_shortcut_is_the_prefix_rule() {
        let plain = |id: &str| {
            PREFIXES
                .iter()
                .any(|p| id.len() > p.len() && id.starts_with(p))
        };
        for p in PREFIXES {
            let sep = p.bytes().filter(|b| *b == b'-' || *b == b'_').count();
            assert!(
                sep == 1 && p.ends_with(['-', '_']),
                "{p}: one separator, at the end"
            );
        }
        let words = [
            "",
            "file-",
            "file-1",
            "file_1",
            "files",
            "batch_",
            "batch_x",
            "resp_a-b",
            "vs-1",
            "vs_1",
            "chatcmpl-9",
            "completions",
            "-",
            "_",
            "a-file-1",
            "ftjob-x",
            "conv_",
            "conv_é",
            "upload_9",
            "thread_x_y",
            "msg_",
            "run_1",
        ];
        for w in words {
            assert_eq!(is_object_id(w), plain(w), "{w:?}");
        }
    }

    #[test]
    fn a_known_id_pins_and_an_unknown_one_is_noted() {
        let a = Affinity::new(10);
        a.record("file-1", Side::Green);
        let found = a.lookup("/files/file-1", None);
        assert_eq!(found.side, Some(Side::Green));
        assert!(!found.unknown);
        let found = a.lookup("/files/file-2", None);
        assert_eq!((found.side, found.unknown), (None, true));
    }

    #[test]
    fn created_ids_are_read_from_answers() {
        assert_eq!(
            created_id(br#"{"id":"resp_123","object":"response"}"#).as_deref(),
            Some("resp_123")
        );
        assert_eq!(created_id(br#"{"id":"chatcmpl-1"}"#), None);
        assert_eq!(created_id(b"\x00binary"), None);
        let huge = format!(r#"{{"id":"resp_{}"}}"#, "x".repeat(MAX_ID_BYTES));
        assert_eq!(created_id(huge.as_bytes()), None);
    }
}
