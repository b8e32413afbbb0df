//! A network namespace of the test's own where UDP does not get through: a client in it reaches
//! the host only over TCP (a veth pair, 10.213.<n>.0/30), as behind a firewall that blocks UDP.
//! Needs root, `ip` and `nft` (`cargo xtask test` installs them).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

static NEXT: AtomicU8 = AtomicU8::new(0);

/// The namespace; removed when dropped.
pub struct UdpBlocked {
    name: String,
    /// The host's address on the veth pair (serve on it).
    pub host_ip: Ipv4Addr,
}

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")));
    assert!(status.success(), "`{}` failed ({status})", args.join(" "));
}

impl UdpBlocked {
    /// Creates the namespace, its veth pair and the rule that drops UDP both ways.
    pub fn create() -> Self {
        // Distinct per process and per call, so tests running at once never share a subnet.
        let n = (std::process::id() as u8).wrapping_mul(7).wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let name = format!("mit-udp-{}-{n}", std::process::id());
        let (outside, inside) = (format!("mitv{n}h"), format!("mitv{n}c"));
        let host_ip = Ipv4Addr::new(10, 213, n, 1);
        let inside_ip = Ipv4Addr::new(10, 213, n, 2);
        let namespace = Self { name, host_ip };
        run(&["ip", "netns", "add", &namespace.name]);
        run(&["ip", "link", "add", &outside, "type", "veth", "peer", "name", &inside]);
        run(&["ip", "link", "set", &inside, "netns", &namespace.name]);
        run(&["ip", "addr", "add", &format!("{host_ip}/30"), "dev", &outside]);
        run(&["ip", "link", "set", &outside, "up"]);
        let inside_run = |args: &[&str]| {
            let mut all = vec!["ip", "netns", "exec", namespace.name.as_str()];
            all.extend_from_slice(args);
            run(&all);
        };
        inside_run(&["ip", "addr", "add", &format!("{inside_ip}/30"), "dev", &inside]);
        inside_run(&["ip", "link", "set", &inside, "up"]);
        inside_run(&["ip", "link", "set", "lo", "up"]);
        inside_run(&["nft", "add", "table", "inet", "mit"]);
        for hook in ["input", "output"] {
            inside_run(&["nft", &format!("add chain inet mit {hook} {{ type filter hook {hook} priority 0 ; policy accept ; }}")]);
            inside_run(&["nft", "add", "rule", "inet", "mit", hook, "meta", "l4proto", "udp", "drop"]);
        }
        namespace
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for UdpBlocked {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
