//! Durability of the real binary: retained messages and QoS 1 messages queued for a persistent
//! session survive a graceful stop (SIGTERM) and a crash (`kill -9`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

const WAIT: Duration = Duration::from_secs(10);

/// The `ferrocore serve` process on a data directory, listening on a free loopback port.
struct Ferrocore {
    child: Child,
    addr: SocketAddr,
}

impl Ferrocore {
    fn start(data_dir: &Path) -> Ferrocore {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocore"))
            .args(["serve", "--mqtt-addr", "127.0.0.1:0", "--api-addr", "off", "--log", "warn"])
            .args(["--mqtts-addr", "off", "--https-addr", "off"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("FERROCORE_DURABILITY", "full")
            // One publisher sends a burst; AWS's 100 publishes per second would throttle it.
            .env("FERROCORE_BROKER_MAX_PUBLISHES_PER_SECOND", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("ferrocore: MQTT listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Ferrocore { child, addr }
    }

    fn sigterm(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(status.unwrap().success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "SIGTERM must end with exit code 0, got {exit:?}");
    }

    fn sigkill(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

impl Drop for Ferrocore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options(addr: SocketAddr, id: &str, clean: bool) -> MqttOptions {
    let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    options.set_clean_session(clean);
    options.set_keep_alive(Duration::from_secs(60));
    options
}

/// Polls until `until` says stop, with a deadline.
async fn drive(eventloop: &mut EventLoop, mut until: impl FnMut(&Packet) -> bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Incoming(packet) = eventloop.poll().await.unwrap()
                && until(&packet)
            {
                return;
            }
        }
    })
    .await
    .expect("timed out");
}

/// A persistent subscriber registers `filter`, then leaves.
async fn register_persistent_subscriber(addr: SocketAddr, filter: &str) {
    let (client, mut eventloop) = AsyncClient::new(options(addr, "keeper", false), 100);
    drive(&mut eventloop, |p| matches!(p, Packet::ConnAck(_))).await;
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    drive(&mut eventloop, |p| matches!(p, Packet::SubAck(_))).await;
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(WAIT, async { while eventloop.poll().await.is_ok() {} }).await;
}

/// Publishes a retained message and `n` QoS 1 messages, and returns once all are acknowledged.
async fn publish_acknowledged(addr: SocketAddr, n: usize) {
    let (client, mut eventloop) = AsyncClient::new(options(addr, "publisher", true), 1000);
    drive(&mut eventloop, |p| matches!(p, Packet::ConnAck(_))).await;
    client.publish("state/config", QoS::AtLeastOnce, true, "retained-v1").await.unwrap();
    for i in 0..n {
        client
            .publish(format!("queue/{i}"), QoS::AtLeastOnce, false, format!("m{i}"))
            .await
            .unwrap();
    }
    let mut acked = 0;
    drive(&mut eventloop, |p| {
        if matches!(p, Packet::PubAck(_)) {
            acked += 1;
        }
        acked == n + 1
    })
    .await;
}

/// Reconnects the persistent subscriber and collects what it receives.
async fn drain_persistent_subscriber(addr: SocketAddr, n: usize) -> Vec<String> {
    let (_client, mut eventloop) = AsyncClient::new(options(addr, "keeper", false), 100);
    let mut payloads = Vec::new();
    drive(&mut eventloop, |p| {
        if let Packet::ConnAck(ack) = p {
            assert!(ack.session_present, "the session survived");
        }
        if let Packet::Publish(publish) = p {
            payloads.push(String::from_utf8_lossy(&publish.payload).into_owned());
        }
        payloads.len() == n
    })
    .await;
    payloads
}

async fn retained_payload(addr: SocketAddr) -> String {
    let (client, mut eventloop) = AsyncClient::new(options(addr, "reader", true), 10);
    drive(&mut eventloop, |p| matches!(p, Packet::ConnAck(_))).await;
    client.subscribe("state/config", QoS::AtLeastOnce).await.unwrap();
    let mut payload = String::new();
    drive(&mut eventloop, |p| match p {
        Packet::Publish(publish) => {
            assert!(publish.retain);
            payload = String::from_utf8_lossy(&publish.payload).into_owned();
            true
        }
        _ => false,
    })
    .await;
    payload
}

async fn survives(stop: impl FnOnce(Ferrocore)) {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let server = Ferrocore::start(dir.path());
    register_persistent_subscriber(server.addr, "queue/#").await;
    publish_acknowledged(server.addr, N).await;
    stop(server);

    let server = Ferrocore::start(dir.path());
    let mut payloads = drain_persistent_subscriber(server.addr, N).await;
    payloads.sort_by_key(|p| p[1..].parse::<usize>().unwrap());
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(payloads, expected, "every acknowledged message is delivered after the restart");
    assert_eq!(retained_payload(server.addr).await, "retained-v1");
    server.sigterm();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigterm() {
    survives(Ferrocore::sigterm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9() {
    survives(Ferrocore::sigkill).await;
}
