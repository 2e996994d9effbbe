//! The tracing spans of a request and its attempts, in a test binary of their own: tracing
//! caches per call site whether anyone listens, and a sibling test running without a
//! subscriber on another thread could cache "no one" between this test's rebuild and its use.

mod common;

use common::*;
use turnout::Side;
use turnout_sim::Faults;

/// A minimal `tracing` subscriber that keeps every span's name, parent and fields.
mod spans {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Debug, Clone)]
    pub struct Span {
        pub name: String,
        pub parent: Option<u64>,
        pub fields: BTreeMap<String, String>,
    }

    #[derive(Clone, Default)]
    pub struct Spans(pub Arc<Mutex<Vec<Span>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .insert(field.name().to_string(), format!("{value:?}"));
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_string(), value.to_string());
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }

        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            let mut spans = self.0.lock().unwrap();
            spans.push(Span {
                name: attrs.metadata().name().to_string(),
                parent: attrs.parent().map(Id::into_u64),
                fields,
            });
            Id::from_u64(spans.len() as u64)
        }

        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut spans = self.0.lock().unwrap();
            let index = span.into_u64() as usize - 1;
            values.record(&mut Fields(&mut spans[index].fields));
        }

        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[tokio::test]
async fn a_span_per_request_and_per_attempt_with_side_model_attempt_and_outcome() {
    let sims = Sims::start().await;
    let client = sims.client();
    client.set_canary_weight(100.0).unwrap();
    sims.fault(
        Side::Green,
        Faults {
            fail_next: 1,
            ..Faults::default()
        },
    );
    let spans = spans::Spans::default();
    let guard = tracing::subscriber::set_default(spans.clone());
    // A sibling test running without a subscriber may have cached these callsites as
    // disabled; make tracing ask again now that this thread has one.
    tracing::callsite::rebuild_interest_cache();
    let resp = client.chat().create(chat(MODEL, "hi")).await.unwrap();
    drop(guard);
    assert_eq!(resp.route.environment, Side::Blue);

    let spans = spans.0.lock().unwrap().clone();
    let field = |s: &spans::Span, k: &str| s.fields.get(k).cloned().unwrap_or_default();
    let requests: Vec<_> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == "turnout.request")
        .collect();
    assert_eq!(requests.len(), 1, "{spans:?}");
    let (index, request) = requests[0];
    assert_eq!(field(request, "side"), "blue");
    assert_eq!(field(request, "model"), MODEL);
    assert_eq!(field(request, "attempts"), "2");
    assert_eq!(field(request, "outcome"), "success");
    assert_eq!(field(request, "path"), "/chat/completions");
    let attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "turnout.attempt")
        .collect();
    assert_eq!(attempts.len(), 2, "{spans:?}");
    for (attempt, (side, outcome)) in attempts
        .iter()
        .zip([("green", "failure"), ("blue", "success")])
    {
        assert_eq!(
            attempt.parent,
            Some(index as u64 + 1),
            "a child of the request"
        );
        assert_eq!(field(attempt, "side"), side);
        assert_eq!(field(attempt, "model"), MODEL);
        assert_eq!(field(attempt, "outcome"), outcome);
    }
    assert_eq!(field(attempts[0], "attempt"), "1");
    assert_eq!(field(attempts[1], "attempt"), "2");
    assert_no_key("the spans", &format!("{spans:?}"));
    sims.shutdown().await;
}
