//! A fixed 13-byte answer on the latchkey HTTP loop, for throughput comparisons:
//! `cargo run --release --example hello -- 127.0.0.1:8084`.

use latchkey::http::{Handler, Limits, Reply, Request, Response, Server};

struct Hello;

impl Handler for Hello {
    type Done = ();

    fn handle(&mut self, _req: &Request<'_>) -> Reply<()> {
        Reply::Respond(
            Response::new(200)
                .header("Content-Type", "text/plain")
                .static_body(b"Hello, world!"),
        )
    }

    fn complete(&mut self, _done: ()) -> Response {
        Response::new(500)
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8084".into());
    let addr = addr
        .parse()
        .map_err(|_| std::io::Error::other("bad address"))?;
    let server = Server::bind(addr, Limits::default())?.handle_signals(true)?;
    eprintln!("listening on {}", server.local_addr()?);
    server.run(Hello)
}
