//! Janus (Debian's `janus`, VideoRoom plugin, WebSocket API) for `bench sfu --against janus`.
//!
//! Janus never pairs ICE over loopback (libnice leaves `lo` out of its host candidates), so it
//! runs in a network namespace of the benchmark's own, on an address of a veth interface there,
//! and the load generator runs in the same namespace. Traffic to a local address goes through the
//! kernel's loopback path as Mit's does on 127.0.0.1: the same cost on both sides.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::run;
use crate::tools::Package;

/// Debian's Janus.
pub const JANUS: Package = Package { name: "janus", provides: "janus" };

const PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/janus";
/// The address Janus and the load generator use inside the namespace.
pub const ADDRESS: &str = "10.215.0.1";
const WS_PORT: u16 = 18_188;

/// A running Janus in its namespace; stopped and removed when dropped.
pub struct JanusServer {
    namespace: String,
    process: Child,
    /// Its configuration and log, removed with it.
    dir: PathBuf,
}

impl JanusServer {
    /// Writes a minimal configuration into `dir` and starts Janus with it.
    pub fn start(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        write_config(dir)?;
        let namespace = format!("mit-bench-janus-{}", std::process::id());
        create_namespace(&namespace)?;
        let log = std::fs::File::create(dir.join("janus.log"))?;
        let process = Command::new("ip")
            .args(["netns", "exec", &namespace, "janus", "-F"])
            .arg(dir)
            .arg("-C")
            .arg(dir.join("janus.jcfg"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting janus")?;
        let server = Self { namespace, process, dir: dir.to_path_buf() };
        if let Err(error) = server.wait_until_listening() {
            // The directory goes with the server: say what its log said first.
            let log = std::fs::read_to_string(dir.join("janus.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(error.context(format!("janus's log ends:\n{}", tail.join("\n"))));
        }
        Ok(server)
    }

    /// Its WebSocket API.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{WS_PORT}")
    }

    /// The pid whose CPU and memory are measured.
    pub fn pid(&self) -> u32 {
        // `ip netns exec` execs janus, so the child is Janus itself.
        self.process.id()
    }

    /// `program` to be run in Janus's namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace]).arg(program);
        command
    }

    fn wait_until_listening(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let probe = Command::new("ip")
                .args(["netns", "exec", &self.namespace, "ss", "-ltn", &format!("sport = :{WS_PORT}")])
                .stderr(Stdio::null())
                .output()?;
            if String::from_utf8_lossy(&probe.stdout).contains("LISTEN") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("janus did not listen on :{WS_PORT} within 15 s")
    }
}

impl Drop for JanusServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = Command::new("ip").args(["netns", "del", &self.namespace]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Loopback, and a veth pair with [`ADDRESS`] and a default route (webrtc-rs's mDNS socket
/// needs one to start).
fn create_namespace(name: &str) -> Result<()> {
    run(Command::new("ip").args(["netns", "add", name]))?;
    let inside = |args: &[&str]| run(Command::new("ip").args(["netns", "exec", name]).args(args));
    inside(&["ip", "link", "set", "lo", "up"])?;
    inside(&["ip", "link", "add", "janus0", "type", "veth", "peer", "name", "janus1"])?;
    inside(&["ip", "addr", "add", &format!("{ADDRESS}/24"), "dev", "janus0"])?;
    inside(&["ip", "link", "set", "janus0", "up"])?;
    inside(&["ip", "link", "set", "janus1", "up"])?;
    inside(&["ip", "route", "add", "default", "dev", "janus0"])
}

/// Janus core, the WebSocket transport and the VideoRoom plugin, nothing else; rooms are made
/// through the API.
fn write_config(dir: &Path) -> Result<()> {
    let folder = |name: &str| PathBuf::from(PLUGINS).join(name).display().to_string();
    let disabled_plugins =
        ["audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "streaming", "textroom", "videocall", "voicemail"]
            .map(|p| format!("libjanus_{p}.so"))
            .join(",");
    let disabled_transports = ["http", "mqtt", "nanomsg", "pfunix", "rabbitmq"].map(|t| format!("libjanus_{t}.so")).join(",");
    let core = format!(
        "general: {{\n  configs_folder = \"{dir}\"\n  plugins_folder = \"{plugins}\"\n  transports_folder = \"{transports}\"\n  \
         events_folder = \"{events}\"\n  loggers_folder = \"{loggers}\"\n  debug_level = 3\n  session_timeout = 0\n}}\n\
         media: {{\n  rtp_port_range = \"50000-60000\"\n}}\n\
         nat: {{\n  ice_enforce_list = \"janus0\"\n  ignore_mdns = true\n}}\n\
         plugins: {{\n  disable = \"{disabled_plugins}\"\n}}\n\
         transports: {{\n  disable = \"{disabled_transports}\"\n}}\n\
         loggers: {{\n  disable = \"libjanus_jsonlog.so\"\n}}\n\
         events: {{\n  broadcast = false\n}}\n",
        dir = dir.display(),
        plugins = folder("plugins"),
        transports = folder("transports"),
        events = folder("events"),
        loggers = folder("loggers"),
    );
    std::fs::write(dir.join("janus.jcfg"), core)?;
    std::fs::write(
        dir.join("janus.transport.websockets.jcfg"),
        format!(
            "general: {{\n  json = \"plain\"\n  ws = true\n  ws_port = {WS_PORT}\n  ws_ip = \"127.0.0.1\"\n}}\nadmin: {{\n  admin_ws = false\n}}\n"
        ),
    )?;
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n")?;
    Ok(())
}
