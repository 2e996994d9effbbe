//! Cost accounting: `route.cost_usd` for each default model, dated names, config overrides,
//! stream usage, and the `costs()` totals by environment, model and tag.

mod common;

use common::{Sims, chat};
use turnout::config::Price;
use turnout::cost::{DEFAULT_PRICES, PriceTable};
use turnout::protocol::EmbeddingRequest;
use turnout::{RequestOptions, Side};

/// The defaults the docs promise, USD per million input / output tokens. Kept apart from the
/// crate's table on purpose: a change of a default price must change this test too.
const PROMISED: &[(&str, f64, f64)] = &[
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("claude-sonnet-4.5", 3.00, 15.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("deepseek-v3.2", 0.28, 0.42),
];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-15_f64.max(b.abs() * 1e-12)
}

#[tokio::test]
async fn each_default_chat_model_costs_prompt_times_input_plus_completion_times_output() {
    let sims = Sims::start().await;
    let client = sims.client();
    for &(model, input, output) in PROMISED {
        let resp = client
            .chat()
            .create(chat(
                model,
                "a prompt long enough to have several tokens in it, for the arithmetic",
            ))
            .await
            .unwrap();
        let usage = resp.usage.clone().expect("usage");
        assert!(usage.prompt_tokens > 1 && usage.completion_tokens > 1);
        let expected = (usage.prompt_tokens as f64 * input
            + usage.completion_tokens as f64 * output)
            / 1_000_000.0;
        let cost = resp.route.cost_usd.expect("a default model has a price");
        assert!(close(cost, expected), "{model}: {cost} != {expected}");
        assert!(
            DEFAULT_PRICES.contains(&(model, input, output)),
            "{model} is in the default table with these prices"
        );
    }
    // The same arithmetic by hand, independent of the simulator's token counts.
    let table = PriceTable::default();
    for &(model, input, output) in PROMISED {
        let cost = table.cost(model, 1_000_000, 1_000_000).unwrap();
        assert!(close(cost, input + output), "{model}");
        let cost = table.cost(model, 1234, 567).unwrap();
        assert!(
            close(cost, (1234.0 * input + 567.0 * output) / 1e6),
            "{model}"
        );
    }
    let costs = client.costs();
    assert_eq!(costs.total.requests, PROMISED.len() as u64);
    assert_eq!(costs.total.unpriced_requests, 0);
    for &(model, _, _) in PROMISED {
        assert_eq!(costs.by_model[model].requests, 1, "{model}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn embeddings_cost_their_input_tokens() {
    let sims = Sims::start().await;
    let client = sims.client();
    let resp = client
        .embeddings()
        .create(
            EmbeddingRequest::new(
                "text-embedding-3-small",
                "some text to embed, several tokens",
            ),
            RequestOptions::default(),
        )
        .await
        .unwrap();
    let usage = resp.usage.clone().expect("usage");
    assert!(usage.prompt_tokens > 0);
    let expected = usage.prompt_tokens as f64 * 0.02 / 1e6;
    assert!(close(resp.route.cost_usd.unwrap(), expected));
    assert!(DEFAULT_PRICES.contains(&("text-embedding-3-small", 0.02, 0.0)));
    sims.shutdown().await;
}

#[tokio::test]
async fn dated_and_prefixed_model_names_price_as_their_family() {
    let sims = Sims::start().await;
    let client = sims.client();
    for (asked, family) in [
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("gpt-4.1-2025-04-14", (2.00, 8.00)),
        ("openai/gpt-4.1-mini", (0.40, 1.60)),
    ] {
        let resp = client
            .chat()
            .create(chat(asked, "hello there"))
            .await
            .unwrap();
        let u = resp.usage.clone().unwrap();
        let expected =
            (u.prompt_tokens as f64 * family.0 + u.completion_tokens as f64 * family.1) / 1e6;
        assert!(close(resp.route.cost_usd.unwrap(), expected), "{asked}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn config_pricing_overrides_defaults_and_unknown_models_have_no_cost() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| {
            c.pricing.insert(
                "gpt-4o".into(),
                Price {
                    input: 100.0,
                    output: 1000.0,
                },
            );
        })
        .build()
        .unwrap();
    let resp = client.chat().create(chat("gpt-4o", "hello")).await.unwrap();
    let u = resp.usage.clone().unwrap();
    let expected = (u.prompt_tokens as f64 * 100.0 + u.completion_tokens as f64 * 1000.0) / 1e6;
    assert!(close(resp.route.cost_usd.unwrap(), expected));

    let resp = client
        .chat()
        .create(chat("an-unknown-model", "hello"))
        .await
        .unwrap();
    assert_eq!(resp.route.cost_usd, None);
    let costs = client.costs();
    assert_eq!(costs.total.requests, 2);
    assert_eq!(costs.total.unpriced_requests, 1);
    assert_eq!(costs.by_model["an-unknown-model"].cost_usd, 0.0);
    assert!(costs.by_model["an-unknown-model"].prompt_tokens > 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn costs_total_by_environment_model_and_tag() {
    let sims = Sims::start().await;
    let client = sims
        .builder()
        .configure(|c| c.cost_tag = "project".to_string())
        .build()
        .unwrap();
    let mut sum = 0.0;
    let mut by_side = [0.0, 0.0];
    let mut by_project = std::collections::BTreeMap::<&str, f64>::new();
    for (side, project, model) in [
        (Side::Blue, Some("search"), "gpt-4.1"),
        (Side::Blue, Some("ads"), "gpt-4o"),
        (Side::Green, Some("search"), "gpt-4o"),
        (Side::Green, None, "gpt-4.1-mini"),
    ] {
        let mut options = RequestOptions::default()
            .environment(side)
            .metadata("team", "not-the-tag");
        if let Some(p) = project {
            options = options.metadata("project", p);
        }
        let resp = client
            .chat()
            .create(chat(model, "what does this cost?"))
            .options(options)
            .await
            .unwrap();
        let c = resp.route.cost_usd.unwrap();
        sum += c;
        by_side[side.index()] += c;
        *by_project
            .entry(project.unwrap_or("(untagged)"))
            .or_default() += c;
    }
    let costs = client.costs();
    assert_eq!(costs.tag, "project");
    assert_eq!(costs.total.requests, 4);
    assert!(close(costs.total.cost_usd, sum));
    assert!(close(costs.by_environment["blue"].cost_usd, by_side[0]));
    assert!(close(costs.by_environment["green"].cost_usd, by_side[1]));
    assert_eq!(costs.by_model["gpt-4o"].requests, 2);
    assert_eq!(costs.by_tag.len(), 3);
    for (project, cost) in by_project {
        assert!(close(costs.by_tag[project].cost_usd, cost), "{project}");
    }
    assert!(!costs.by_tag.contains_key("not-the-tag"));
    // Serialisable, for the bindings and for a JSON endpoint.
    let json = serde_json::to_value(&costs).unwrap();
    assert_eq!(json["by_tag"]["search"]["requests"], 2);
    assert_eq!(json["by_environment"]["blue"]["requests"], 2);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_streamed_answer_is_charged_from_its_final_usage_chunk() {
    let sims = Sims::start().await;
    let client = sims.client();
    let mut request = chat("gpt-4.1", "stream me a few words please");
    request.stream_options = Some(serde_json::json!({"include_usage": true}));
    let chunks = client
        .chat()
        .stream(request)
        .options(RequestOptions::default().metadata("team", "search"))
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let usage = chunks
        .iter()
        .find_map(|c| c.usage.clone())
        .expect("include_usage was asked for");
    let costs = client.costs();
    let expected = (usage.prompt_tokens as f64 * 2.0 + usage.completion_tokens as f64 * 8.0) / 1e6;
    assert!(close(costs.total.cost_usd, expected));
    assert_eq!(
        costs.by_tag["search"].completion_tokens,
        usage.completion_tokens
    );
    assert_eq!(costs.by_model["gpt-4.1"].requests, 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn failed_requests_cost_nothing() {
    let sims = Sims::start().await;
    let client = sims.client();
    sims.fault(Side::Blue, common::always(400));
    let _ = client
        .chat()
        .create(chat("gpt-4.1", "hi"))
        .environment(Side::Blue)
        .await
        .unwrap_err();
    let costs = client.costs();
    assert_eq!(costs.total.requests, 0);
    assert_eq!(costs.total.cost_usd, 0.0);
    sims.shutdown().await;
}
