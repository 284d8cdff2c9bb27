//! Apache httpd's balancer-manager, as an operator drives it to scale a balancer out or in
//! without a restart: read the page for its nonce (its guard against cross-site requests),
//! then post the change with a `Referer` naming the server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::process::StartError;

/// How many members Apache may gain after it starts (mod_proxy_balancer's `growth`).
pub const GROWTH: usize = 8;

/// The balancer the harness's Apache configuration defines.
const BALANCER: &str = "nodes";
const PATH: &str = "/balancer-manager";
/// No change of a loopback balancer takes longer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Adds the member at `addr` with route `route`, enabled (the manager adds members
/// disabled), and checks that Apache lists it.
pub async fn add(admin: SocketAddr, addr: SocketAddr, route: &str) -> Result<(), StartError> {
    let page = get(admin).await?;
    let worker = format!("http://{addr}");
    if !page.contains(&format!("{worker}<")) {
        let nonce = nonce(&page)?;
        post(
            admin,
            &format!("b={BALANCER}&b_nwrkr={worker}&b_wyes=1&nonce={nonce}"),
        )
        .await?;
    }
    let page = get(admin).await?;
    if !page.contains(&format!("{worker}<")) {
        return Err(admin_error(format!(
            "Apache did not add {worker} (a balancer gains at most {} members after it starts)",
            GROWTH
        )));
    }
    let nonce = nonce(&page)?;
    post(
        admin,
        &format!("b={BALANCER}&w={worker}&w_wr={route}&w_status_D=0&nonce={nonce}"),
    )
    .await
}

/// Enables or disables the member at `addr`: a disabled member gets no new requests, not even
/// its sticky ones, while those in flight finish.
pub async fn set_enabled(
    admin: SocketAddr,
    addr: SocketAddr,
    enabled: bool,
) -> Result<(), StartError> {
    let page = get(admin).await?;
    let nonce = nonce(&page)?;
    let disabled = u8::from(!enabled);
    post(
        admin,
        &format!("b={BALANCER}&w=http://{addr}&w_status_D={disabled}&nonce={nonce}"),
    )
    .await
}

fn admin_error(detail: String) -> StartError {
    StartError::Admin { detail }
}

/// The page's nonce: a UUID in every link it has (`…&nonce=<uuid>`).
fn nonce(page: &str) -> Result<&str, StartError> {
    let start = page
        .find("nonce=")
        .map(|i| i + "nonce=".len())
        .ok_or_else(|| admin_error("Apache's balancer-manager page has no nonce".into()))?;
    let rest = &page[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .unwrap_or(rest.len());
    Ok(&rest[..end])
}

async fn get(admin: SocketAddr) -> Result<String, StartError> {
    exchange(
        admin,
        format!("GET {PATH} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn post(admin: SocketAddr, form: &str) -> Result<(), StartError> {
    exchange(
        admin,
        format!(
            "POST {PATH} HTTP/1.0\r\nHost: localhost\r\nReferer: http://localhost{PATH}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .await
    .map(drop)
}

/// One HTTP/1.0 request (no chunked body to undo) on a connection of its own; the
/// response's body if its status is 200.
async fn exchange(admin: SocketAddr, request: String) -> Result<String, StartError> {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(admin).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = match tokio::time::timeout(TIMEOUT, io).await {
        Ok(Ok(response)) => String::from_utf8_lossy(&response).into_owned(),
        Ok(Err(e)) => return Err(admin_error(format!("Apache's balancer-manager: {e}"))),
        Err(_) => {
            return Err(admin_error(format!(
                "Apache's balancer-manager did not answer within {TIMEOUT:?}"
            )));
        }
    };
    let status = response.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(admin_error(format!("Apache's balancer-manager: {status}")));
    }
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string()))
}
