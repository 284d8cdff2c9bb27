//! The driver's benchmark workload in goose: each user logs in once (`POST /login` with its
//! name), then reads `GET /session` as fast as the node answers, each answer checked to show
//! that user, as `suites/bench-driver.toml` does. Goose's own options (`--host`, `--users`,
//! `--run-time`, ...) set the rest; prints `REQUESTS-PER-S n` and `REQUESTS n` of the reads.

use goose::prelude::*;

/// The user's name, from its index in the attack.
fn name(user: &GooseUser) -> String {
    format!("user-{}", user.weighted_users_index)
}

async fn login(user: &mut GooseUser) -> TransactionResult {
    let body = format!("{{\"user\":\"{}\"}}", name(user));
    let builder = user
        .get_request_builder(&GooseMethod::Post, "/login")?
        .header("content-type", "application/json")
        .body(body);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path("/login")
        .set_request_builder(builder)
        .build();
    let mut answer = user.request(request).await?;
    let status = match &answer.response {
        Ok(r) if !r.status().is_success() => r.status(),
        _ => return Ok(()), // goose counts a failed request itself
    };
    user.set_failure(&format!("login answered {status}"), &mut answer.request, None, None)
}

async fn read(user: &mut GooseUser) -> TransactionResult {
    let expected = format!("\"user\":\"{}\"", name(user));
    let mut answer = user.get("/session").await?;
    let body = match answer.response {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return Ok(()), // goose counts the failure itself
    };
    if !body.contains(&expected) {
        return user.set_failure("the session does not show its user", &mut answer.request, None, Some(&body));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let metrics = GooseAttack::initialize()?
        .register_scenario(
            scenario!("LoggedIn")
                .register_transaction(transaction!(login).set_on_start())
                .register_transaction(transaction!(read)),
        )
        .execute()
        .await?;
    let reads = metrics
        .requests
        .get("GET /session")
        .map_or(0, |r| r.success_count);
    let failed = metrics.requests.values().map(|r| r.fail_count).sum::<usize>();
    println!("REQUESTS {reads}");
    println!("FAILED {failed}");
    println!(
        "REQUESTS-PER-S {:.0}",
        reads as f64 / metrics.duration.max(1) as f64
    );
    Ok(())
}
