use std::net::IpAddr;

/// Facts about the HTTP request that handlers may need beyond its typed inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address (the TCP peer; proxies are not trusted).
    pub client_ip: Option<IpAddr>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// Reads the context off a poem request.
    pub fn from_request(request: &poem::Request) -> Self {
        let client_ip = request.remote_addr().as_socket_addr().map(|addr| addr.ip());
        let user_agent =
            request.headers().get(poem::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(256).collect());
        Self { client_ip, user_agent }
    }
}
