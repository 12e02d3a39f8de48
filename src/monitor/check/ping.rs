//! Ping: ICMP echo through one surge-ping client per address family; when the process may not
//! open ICMP sockets (neither unprivileged "ping" sockets nor raw ones with CAP_NET_RAW), or
//! `[monitor] icmp = false`, a TCP connect to the target's port (`host:port`) or `tcp_port`,
//! with a note on the monitor that says so.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence};

use super::Probe;
use crate::monitor::settings::MonitorSettings;

pub(super) struct Icmp {
    v4: Result<Client, String>,
    v6: Result<Client, String>,
}

impl Icmp {
    pub(super) fn open(settings: &MonitorSettings) -> Icmp {
        if !settings.icmp {
            let off = || Err("設定（[monitor] icmp = false）".to_string());
            return Icmp {
                v4: off(),
                v6: off(),
            };
        }
        let open = |kind| {
            Client::new(&Config::builder().kind(kind).build()).map_err(|e| {
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    "ICMP ソケットを開く権限がない（CAP_NET_RAW か net.ipv4.ping_group_range が必要）"
                        .to_string()
                } else {
                    format!("ICMP ソケットを開けない（{e}）")
                }
            })
        };
        let v4 = open(ICMP::V4);
        if let Err(e) = &v4 {
            tracing::warn!("ping falls back to TCP connect checks: {e}");
        }
        Icmp {
            v4,
            v6: open(ICMP::V6),
        }
    }

    pub(super) fn available(&self) -> bool {
        self.v4.is_ok()
    }

    pub(super) async fn check(
        &self,
        target: &str,
        default_port: u16,
        seq: u16,
        id: i64,
        timeout: Duration,
    ) -> Probe {
        let (host, port) = split_port(target);
        let Some(ip) = resolve(host).await else {
            return Probe::down(format!("ホスト名 {host} を解決できません"));
        };
        let client = if ip.is_ipv4() { &self.v4 } else { &self.v6 };
        match client {
            Ok(client) => echo(client, ip, seq, id, timeout).await,
            Err(why) => {
                let port = port.unwrap_or(default_port);
                let mut p = tcp_connect(SocketAddr::new(ip, port), timeout).await;
                p.note = Some(format!(
                    "{why}ため、ICMP ではなく TCP 接続（ポート {port}）で死活を確認しています。"
                ));
                p
            }
        }
    }
}

async fn echo(client: &Client, ip: IpAddr, seq: u16, id: i64, timeout: Duration) -> Probe {
    let mut pinger = client
        .pinger(ip, PingIdentifier((id & 0xffff) as u16))
        .await;
    pinger.timeout(timeout);
    match pinger.ping(PingSequence(seq), &[0u8; 16]).await {
        Ok((_, rtt)) => Probe {
            up: true,
            response_ms: Some(rtt.as_millis() as i64),
            status_code: None,
            cert_days_left: None,
            detail: String::new(),
            note: None,
        },
        Err(surge_ping::SurgeError::Timeout { .. }) => Probe::down(format!(
            "ICMP echo に {} ミリ秒以内の応答がありません",
            timeout.as_millis()
        )),
        Err(e) => Probe::down(format!("ICMP echo が失敗しました（{e}）")),
    }
}

/// A TCP connect: up when the handshake completes within the timeout.
pub(super) async fn tcp_connect(addr: SocketAddr, timeout: Duration) -> Probe {
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Probe {
            up: true,
            response_ms: Some(started.elapsed().as_millis() as i64),
            status_code: None,
            cert_days_left: None,
            detail: String::new(),
            note: None,
        },
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Probe::down(format!("{addr} への TCP 接続が拒否されました"))
        }
        Ok(Err(e)) => Probe::down(format!("{addr} へ TCP 接続できません（{e}）")),
        Err(_) => Probe::down(format!(
            "{addr} への TCP 接続が {} ミリ秒以内に完了しません",
            timeout.as_millis()
        )),
    }
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address.
pub(super) fn split_port(target: &str) -> (&str, Option<u16>) {
    if let Some(rest) = target.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            return (host, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
        return (target, None);
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (target, None),
        },
        _ => (target, None),
    }
}

async fn resolve(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    tokio::net::lookup_host((host, 0))
        .await
        .ok()?
        .map(|a| a.ip())
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_a_ping_target_may_carry_the_port_of_its_tcp_fallback() {
        assert_eq!(split_port("192.0.2.1"), ("192.0.2.1", None));
        assert_eq!(split_port("192.0.2.1:22"), ("192.0.2.1", Some(22)));
        assert_eq!(split_port("gw.local:443"), ("gw.local", Some(443)));
        assert_eq!(split_port("::1"), ("::1", None));
        assert_eq!(split_port("[::1]:8080"), ("::1", Some(8080)));
    }
}
