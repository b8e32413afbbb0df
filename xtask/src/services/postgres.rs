//! A PostgreSQL cluster of our own: initdb into a directory, pg_ctl start on a free port with
//! trust auth on loopback, superuser `mit`. PostgreSQL refuses to run as root, so as root the
//! cluster belongs to the `postgres` system user.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::wait_until;
use crate::process::{free_port, is_root, output, run};
use crate::tools::postgres_bin_dir;

/// A running cluster.
pub struct Postgres {
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    throwaway: bool,
}

impl Postgres {
    /// Starts a cluster in `data` (created if empty). A `throwaway` cluster trades durability
    /// for speed and is deleted on drop.
    pub fn start(data: &Path, throwaway: bool) -> Result<Self> {
        let bin = postgres_bin_dir()?;
        std::fs::create_dir_all(data)?;
        let data = data.canonicalize()?;
        if !data.join("PG_VERSION").exists() {
            own(&data)?;
            run(as_owner(&bin.join("initdb")).arg("-D").arg(&data).args(["-U", "mit", "--auth=trust", "-E", "UTF8", "--no-instructions"]))
                .context("initdb")?;
        }
        let port = free_port()?;
        let mut options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300", data.display());
        if throwaway {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        run(as_owner(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(data.join("server.log"))
            .args(["-w", "-t", "60", "start"]))
        .with_context(|| format!("pg_ctl start (log: {})", data.join("server.log").display()))?;
        let pg = Self { data, bin, port, throwaway };
        wait_until("PostgreSQL", 30, || pg.psql("SELECT 1").is_ok())?;
        Ok(pg)
    }

    /// The URL of database `name` as superuser `mit`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://mit@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` unless it exists.
    pub fn ensure_database(&self, name: &str) -> Result<()> {
        let exists = self.psql(&format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))?;
        if exists.trim() != "1" {
            self.psql(&format!("CREATE DATABASE \"{name}\""))?;
        }
        Ok(())
    }

    fn psql(&self, sql: &str) -> Result<String> {
        output(Command::new(self.bin.join("psql")).args(["-X", "-q", "-t", "-A", "-d"]).arg(self.url("postgres")).args(["-c", sql]))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mode = if self.throwaway { "immediate" } else { "fast" };
        let _ = as_owner(&self.bin.join("pg_ctl")).arg("-D").arg(&self.data).args(["-m", mode, "-w", "stop"]).output();
        if self.throwaway {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// Runs `program` as the cluster's owner: `postgres` when we are root, else ourselves.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn own(data: &Path) -> Result<()> {
    if is_root() {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(data))?;
        run(Command::new("chmod").arg("700").arg(data))?;
    }
    Ok(())
}
