//! The MQTT 3.1.1 session: login over the toolkit's connection, then one task that owns the
//! connection — it sends what the commands hand it, acknowledges what the broker sends
//! (QoS 1 and 2 both ways), keeps the connection alive with PINGREQ, and puts received
//! messages in the inbox with `+UUMQTTC: 6,<unread>`. The packets are rumqttc's codec.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, LastWill, Packet, PubAck, PubComp, PubRec, PubRel};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::module::ids::TerminalId;
use crate::module::model::{MqttClientId, MqttSyntax};
use crate::module::state::Shared;
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::state::command::Command;
use crate::services::mqtt::state::{INBOX, Message, Profile, Session};
use crate::services::toolkit::connect::{
    Carries, ConnectError, Connection, ServiceStream, TlsRequest,
};
use ubx_field::events::Events;

/// The context MQTT uses (as HTTP and sockets).
const SERVICE_CID: u8 = 1;

/// Largest packet the module takes from a broker.
const MAX_PACKET: usize = 1 << 20;

/// How long the broker has to answer a CONNECT, a SUBSCRIBE or an acknowledged PUBLISH.
pub(crate) const ANSWER: Duration = Duration::from_secs(30);

pub(crate) fn qos(n: u8) -> QoS {
    match n {
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtMostOnce,
    }
}

fn connect_failure(e: ConnectError) -> MqttFailure {
    match e {
        ConnectError::NoBearer => MqttFailure::NoBearer,
        ConnectError::SecurityProfile | ConnectError::Handshake => MqttFailure::Tls,
        ConnectError::Unresolved | ConnectError::Io(_) => MqttFailure::Connect,
    }
}

/// `AT+UMQTTC=1`: connects, sends CONNECT, waits for CONNACK, starts the session task.
pub(crate) async fn login(shared: &Arc<Shared>, terminal: TerminalId) -> Result<(), MqttFailure> {
    let profile = shared.state().mqtt.profile.clone();
    let server = profile.server().ok_or(MqttFailure::NoServer)?.to_string();
    let connection = Connection::for_service(shared, SERVICE_CID).map_err(connect_failure)?;
    let tls = profile.secure.map(|sec| TlsRequest {
        profile: sec,
        server: server.clone(),
        private_data: false,
    });
    let open = connection.tcp(
        &server,
        profile.port(),
        profile.local_port,
        tls,
        Carries::Protocol,
    );
    let (mut stream, _) = tokio::time::timeout(ANSWER, open)
        .await
        .map_err(|_| MqttFailure::Timeout)?
        .map_err(connect_failure)?;
    let client_id = match shared.model.mqtt.as_ref().map(|m| m.client_id) {
        _ if !profile.client_id.is_empty() => profile.client_id.clone(),
        Some(MqttClientId::Empty) => String::new(),
        Some(MqttClientId::Imei) | None => shared.imei.clone(),
    };
    let events = &shared.field.events;
    write(&mut stream, &connect_packet(&profile, client_id), events)
        .await
        .map_err(|_| MqttFailure::Connect)?;
    let mut buf = BytesMut::with_capacity(4096);
    let connack = tokio::time::timeout(ANSWER, read(&mut stream, &mut buf, events))
        .await
        .map_err(|_| MqttFailure::Timeout)?
        .map_err(|_| MqttFailure::Connect)?;
    match connack {
        Packet::ConnAck(ack) => {
            if let Some(refused) = MqttFailure::refused(ack.code) {
                tracing::info!(code = ?ack.code, "MQTT login refused");
                return Err(refused);
            }
        }
        other => {
            tracing::info!(answer = ?other, "MQTT login answered without a CONNACK");
            return Err(MqttFailure::Protocol);
        }
    }
    let (tx, rx) = mpsc::channel(8);
    let mut state = shared.state();
    let generation = state.mqtt.next_generation;
    state.mqtt.next_generation += 1;
    let keep_alive = Duration::from_secs(u64::from(profile.keep_alive));
    let run = Run {
        shared: Arc::downgrade(shared),
        terminal,
        generation,
        keep_alive,
        pending: HashMap::new(),
        next_pkid: 1,
    };
    let task = tokio::spawn(run.serve(stream, buf, rx));
    state.mqtt.session = Some(Session {
        commands: tx,
        task: task.abort_handle(),
        generation,
    });
    Ok(())
}

fn connect_packet(profile: &Profile, client_id: String) -> Packet {
    let mut connect = Connect::new(client_id);
    connect.keep_alive = profile.keep_alive;
    connect.clean_session = profile.clean_session;
    if !profile.user.is_empty() {
        connect.set_login(profile.user.clone(), profile.password.clone());
    }
    if !profile.will_topic.is_empty() {
        connect.last_will = Some(LastWill::new(
            profile.will_topic.clone(),
            profile.will_message.clone(),
            qos(profile.will_qos),
            profile.will_retain,
        ));
    }
    Packet::Connect(connect)
}

async fn write(
    stream: &mut Box<dyn ServiceStream>,
    packet: &Packet,
    events: &Events,
) -> std::io::Result<()> {
    events.dialogue("mqtt", true, || summary(packet));
    let mut out = BytesMut::new();
    packet
        .write(&mut out, MAX_PACKET)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    stream.write_all(&out).await
}

/// The next packet, reading as much as it needs.
async fn read(
    stream: &mut Box<dyn ServiceStream>,
    buf: &mut BytesMut,
    events: &Events,
) -> std::io::Result<Packet> {
    loop {
        match Packet::read(buf, MAX_PACKET) {
            Ok(packet) => {
                events.dialogue("mqtt", false, || summary(&packet));
                return Ok(packet);
            }
            Err(CodecError::InsufficientBytes(_)) => {}
            Err(e) => return Err(std::io::Error::other(format!("{e:?}"))),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// How often a session looks at its bearer (ours: the module has no bearer event to wait on).
const BEARER_CHECK: Duration = Duration::from_secs(1);

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The host logged out (or the module dropped the session).
    Logout,
    /// The broker went away or the connection broke: `+UUMQTTC: 0,101`.
    Lost(MqttFailure),
    /// No answer to a PINGREQ within the keep-alive: `+UUMQTTC: 0,100`.
    Silent,
}

/// The session task's state.
struct Run {
    shared: Weak<Shared>,
    terminal: TerminalId,
    generation: u64,
    keep_alive: Duration,
    /// Acknowledgements awaited, by packet id.
    pending: HashMap<u16, oneshot::Sender<Packet>>,
    next_pkid: u16,
}

impl Run {
    async fn serve(
        mut self,
        mut stream: Box<dyn ServiceStream>,
        mut buf: BytesMut,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let keep_alive = (!self.keep_alive.is_zero()).then_some(self.keep_alive);
        let events: Arc<Events> = self
            .shared
            .upgrade()
            .map(|s| s.field.events.clone())
            .unwrap_or_default();
        let mut last_sent = Instant::now();
        // When a PINGREQ went out with nothing heard since.
        let mut ping_sent: Option<Instant> = None;
        let mut bearer = tokio::time::interval(BEARER_CHECK);
        let end = loop {
            let mut out = Vec::new();
            let ping_at = match (keep_alive, ping_sent) {
                (Some(k), Some(sent)) => sent + k,
                (Some(k), None) => last_sent + k,
                (None, _) => Instant::now() + Duration::from_secs(3600 * 24),
            };
            tokio::select! {
                packet = read(&mut stream, &mut buf, &events) => match packet {
                    Ok(packet) => {
                        ping_sent = None;
                        self.incoming(packet, &mut out);
                    }
                    Err(_) => break End::Lost(self.broken()),
                },
                command = commands.recv() => match command {
                    Some(command) => {
                        if let Packet::Disconnect = command.packet {
                            let _ = write(&mut stream, &Packet::Disconnect, &events).await;
                            if let Some(done) = command.done {
                                let _ = done.send(Packet::Disconnect);
                            }
                            break End::Logout;
                        }
                        out.push(self.outgoing(command));
                    }
                    None => break End::Logout,
                },
                () = tokio::time::sleep_until(ping_at) => {
                    if ping_sent.is_some() {
                        break End::Silent;
                    }
                    ping_sent = Some(Instant::now());
                    out.push(Packet::PingReq);
                }
                _ = bearer.tick() => {
                    if !self.bearer_up() {
                        break End::Lost(MqttFailure::NoBearer);
                    }
                }
            }
            if !out.is_empty() {
                last_sent = Instant::now();
            }
            if send_all(&mut stream, &out, &events).await.is_err() {
                break End::Lost(self.broken());
            }
        };
        if end != End::Logout {
            self.lost(end);
        }
    }

    /// Why the connection broke: the bearer went, or the broker or the path did.
    fn broken(&self) -> MqttFailure {
        if self.bearer_up() {
            MqttFailure::NotLoggedIn
        } else {
            MqttFailure::NoBearer
        }
    }

    /// Whether the context the session's connection went over is still up.
    fn bearer_up(&self) -> bool {
        self.shared
            .upgrade()
            .is_some_and(|shared| Connection::for_service(&shared, SERVICE_CID).is_ok())
    }

    /// A command's packet, numbered when it needs an acknowledgement.
    fn outgoing(&mut self, command: Command) -> Packet {
        let mut packet = command.packet;
        let pkid = self.next_pkid;
        let numbered = match &mut packet {
            Packet::Publish(p) if p.qos != QoS::AtMostOnce => {
                p.pkid = pkid;
                true
            }
            Packet::Subscribe(s) => {
                s.pkid = pkid;
                true
            }
            Packet::Unsubscribe(u) => {
                u.pkid = pkid;
                true
            }
            _ => false,
        };
        match (numbered, command.done) {
            (true, Some(done)) => {
                self.pending.insert(pkid, done);
                self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            }
            // Nothing comes back for it: done once written.
            (false, Some(done)) => {
                let _ = done.send(Packet::PingResp);
            }
            (_, None) => {}
        }
        packet
    }

    /// What the broker sent: acknowledgements complete commands, messages go to the inbox.
    fn incoming(&mut self, packet: Packet, out: &mut Vec<Packet>) {
        let pkid = match &packet {
            Packet::PubAck(a) => Some(a.pkid),
            Packet::PubComp(c) => Some(c.pkid),
            Packet::SubAck(s) => Some(s.pkid),
            Packet::UnsubAck(u) => Some(u.pkid),
            Packet::PubRec(r) => {
                out.push(Packet::PubRel(PubRel::new(r.pkid)));
                None
            }
            Packet::PubRel(r) => {
                out.push(Packet::PubComp(PubComp::new(r.pkid)));
                None
            }
            Packet::Publish(p) => {
                match p.qos {
                    QoS::AtLeastOnce => out.push(Packet::PubAck(PubAck::new(p.pkid))),
                    QoS::ExactlyOnce => out.push(Packet::PubRec(PubRec::new(p.pkid))),
                    QoS::AtMostOnce => {}
                }
                self.deliver(Message {
                    topic: p.topic.clone(),
                    payload: p.payload.to_vec(),
                    qos: p.qos as u8,
                });
                None
            }
            _ => None,
        };
        if let Some(done) = pkid.and_then(|id| self.pending.remove(&id)) {
            let _ = done.send(packet);
        }
    }

    fn deliver(&self, message: Message) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let prefix = match syntax(&shared) {
            MqttSyntax::New => "+UUMQTTC",
            MqttSyntax::SaraR4 => "+UUMQTTCM",
        };
        let mut state = shared.state();
        let mqtt = &mut state.mqtt;
        if mqtt.inbox.len() >= INBOX {
            mqtt.inbox.pop_front();
            mqtt.dropped += 1;
        }
        mqtt.inbox.push_back(message);
        let urc = format!("{prefix}: 6,{}", mqtt.inbox.len()).into_bytes();
        // An operation running (a publish whose echo this may be) reports its result first.
        if mqtt.slot.busy().is_some() {
            mqtt.held.push(urc);
        } else {
            drop(state);
            shared.urc(self.terminal, urc);
        }
    }

    /// The session is over without a logout: `+UUMQTTC: 0,101` (connection lost) or, when
    /// the broker stopped answering PINGREQ, `+UUMQTTC: 0,100` (inactivity); ubxlib takes both
    /// as a disconnection and asks `+UMQTTER` why.
    fn lost(&self, end: End) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let (failure, result) = match end {
            End::Silent => (MqttFailure::Timeout, 100),
            End::Lost(failure) => (failure, 101),
            End::Logout => return,
        };
        let ours = {
            let mut state = shared.state();
            let ours = state
                .mqtt
                .session
                .as_ref()
                .is_some_and(|s| s.generation == self.generation);
            if ours {
                state.mqtt.session = None;
                state.mqtt.slot.record(Err(failure));
            }
            ours
        };
        if ours {
            tracing::info!(?failure, "MQTT session lost");
            shared.urc(self.terminal, format!("+UUMQTTC: 0,{result}"));
        }
    }
}

/// The syntax of the module's MQTT client.
pub(crate) fn syntax(shared: &Shared) -> MqttSyntax {
    shared
        .model
        .mqtt
        .as_ref()
        .map_or(MqttSyntax::New, |m| m.syntax)
}

/// Writes `packets` in order.
async fn send_all(
    stream: &mut Box<dyn ServiceStream>,
    packets: &[Packet],
    events: &Events,
) -> std::io::Result<()> {
    for packet in packets {
        write(stream, packet, events).await?;
    }
    Ok(())
}

/// A packet as a trace shows it: its type and what identifies it, never a password or a
/// payload (docs/TRACE.md).
fn summary(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => format!(
            "CONNECT client_id={:?} keep_alive={} clean_session={}",
            c.client_id, c.keep_alive, c.clean_session
        ),
        Packet::ConnAck(a) => format!("CONNACK {:?}", a.code),
        Packet::Publish(p) => format!(
            "PUBLISH topic={:?} qos={} retain={} pkid={} len={}",
            p.topic,
            p.qos as u8,
            p.retain,
            p.pkid,
            p.payload.len()
        ),
        Packet::PubAck(a) => format!("PUBACK pkid={}", a.pkid),
        Packet::PubRec(a) => format!("PUBREC pkid={}", a.pkid),
        Packet::PubRel(a) => format!("PUBREL pkid={}", a.pkid),
        Packet::PubComp(a) => format!("PUBCOMP pkid={}", a.pkid),
        Packet::Subscribe(s) => {
            let topics: Vec<String> = s
                .filters
                .iter()
                .map(|f| format!("{:?}/{}", f.path, f.qos as u8))
                .collect();
            format!("SUBSCRIBE pkid={} {}", s.pkid, topics.join(" "))
        }
        Packet::SubAck(a) => format!("SUBACK pkid={}", a.pkid),
        Packet::Unsubscribe(u) => format!("UNSUBSCRIBE pkid={} {:?}", u.pkid, u.topics),
        Packet::UnsubAck(a) => format!("UNSUBACK pkid={}", a.pkid),
        Packet::PingReq => "PINGREQ".into(),
        Packet::PingResp => "PINGRESP".into(),
        Packet::Disconnect => "DISCONNECT".into(),
    }
}
