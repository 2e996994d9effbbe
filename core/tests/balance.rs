//! Opt-in active-active balancing against two simulators: by latency (one side made slow by
//! an injected delay), by price (the sides name the model apart), off by default, never with
//! a canary, never for sticky or pinned requests. Verdicts are counts of where requests went.

mod common;

use common::*;
use turnout::routing::balance::Balance;
use turnout::{Client, RequestOptions, Side};
use turnout_sim::Faults;

fn balanced(sims: &Sims, mode: Balance) -> turnout::ClientBuilder {
    sims.builder()
        .sticky(false)
        .configure(move |c| c.balance = Some(mode))
}

/// Sends `n` requests and counts where they went and why.
async fn spread(client: &Client, n: usize, options: RequestOptions) -> ([usize; 2], Vec<String>) {
    let mut seen = [0; 2];
    let mut reasons = Vec::new();
    for i in 0..n {
        let resp = client
            .chat()
            .create(chat(MODEL, &format!("req {i}")))
            .options(options.clone())
            .await
            .expect("request succeeds");
        seen[resp.route.environment.index()] += 1;
        reasons.push(resp.route.reason.to_string());
    }
    (seen, reasons)
}

#[tokio::test]
async fn by_latency_the_faster_side_takes_the_traffic() {
    let sims = Sims::start().await;
    sims.fault(
        Side::Blue,
        Faults {
            latency_ms: 80,
            ..Faults::default()
        },
    );
    let client = balanced(&sims, Balance::Latency).build().expect("client");
    let (seen, reasons) = spread(&client, 40, RequestOptions::default()).await;
    assert!(reasons.iter().all(|r| r == "balanced"), "{reasons:?}");
    // Blue is tried until its first answer shows it slow (a coin decides between unknowns).
    assert!(seen[Side::Blue.index()] <= 3, "{seen:?}");
    sims.shutdown().await;
}

#[tokio::test]
async fn by_cost_the_side_where_the_model_is_cheaper_takes_the_traffic() {
    let sims = Sims::start().await;
    let client = fast(
        Client::builder()
            .blue(env(&sims.blue.url(), BLUE_KEY))
            .green(env(&sims.green.url(), GREEN_KEY).model(MODEL, "gpt-4.1-mini")),
    )
    .sticky(false)
    .configure(|c| c.balance = Some(Balance::Cost))
    .build()
    .expect("client");
    let (seen, _) = spread(&client, 20, RequestOptions::default()).await;
    assert_eq!(seen, [0, 20]);
    sims.shutdown().await;
}

#[tokio::test]
async fn balancing_is_off_by_default_and_during_a_canary() {
    let sims = Sims::start().await;
    let plain = sims.builder().sticky(false).build().expect("client");
    let (_, reasons) = spread(&plain, 10, RequestOptions::default()).await;
    assert!(reasons.iter().all(|r| r != "balanced"), "{reasons:?}");
    let canary = balanced(&sims, Balance::Latency)
        .canary_weight(10.0)
        .build()
        .expect("client");
    let (_, reasons) = spread(&canary, 10, RequestOptions::default()).await;
    assert!(reasons.iter().all(|r| r == "random"), "{reasons:?}");
    sims.shutdown().await;
}

#[tokio::test]
async fn pinned_and_sticky_requests_are_not_balanced() {
    let sims = Sims::start().await;
    let client = balanced(&sims, Balance::Cost)
        .sticky(true)
        .build()
        .expect("client");
    let (seen, reasons) = spread(
        &client,
        5,
        RequestOptions::default().environment(Side::Green),
    )
    .await;
    assert_eq!(seen, [0, 5]);
    assert!(reasons.iter().all(|r| r == "pinned"));
    let (_, reasons) = spread(&client, 5, RequestOptions::default().routing_key("user-1")).await;
    assert!(reasons.iter().all(|r| r == "sticky"), "{reasons:?}");
    sims.shutdown().await;
}
