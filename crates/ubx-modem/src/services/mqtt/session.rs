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

use crate::module::ids::TerminalId;
use crate::module::state::Shared;
use crate::services::mqtt::errors::MqttFailure;
use crate::services::mqtt::state::command::Command;
use crate::services::mqtt::state::{INBOX, Message, Profile, Session};
use crate::services::toolkit::connect::{ConnectError, Connection, ServiceStream, TlsRequest};

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
    let open = connection.tcp(&server, profile.port(), profile.local_port, tls);
    let (mut stream, _) = tokio::time::timeout(ANSWER, open)
        .await
        .map_err(|_| MqttFailure::Timeout)?
        .map_err(connect_failure)?;
    let client_id = if profile.client_id.is_empty() {
        shared.imei.clone()
    } else {
        profile.client_id.clone()
    };
    write(&mut stream, &connect_packet(&profile, client_id))
        .await
        .map_err(|_| MqttFailure::Connect)?;
    let mut buf = BytesMut::with_capacity(4096);
    let connack = tokio::time::timeout(ANSWER, read(&mut stream, &mut buf))
        .await
        .map_err(|_| MqttFailure::Timeout)?
        .map_err(|_| MqttFailure::Connect)?;
    match connack {
        Packet::ConnAck(ack) if ack.code == rumqttc::mqttbytes::v4::ConnectReturnCode::Success => {}
        other => {
            tracing::info!(answer = ?other, "MQTT login refused");
            return Err(MqttFailure::Refused);
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

async fn write(stream: &mut Box<dyn ServiceStream>, packet: &Packet) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    packet
        .write(&mut out, MAX_PACKET)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    stream.write_all(&out).await
}

/// The next packet, reading as much as it needs.
async fn read(stream: &mut Box<dyn ServiceStream>, buf: &mut BytesMut) -> std::io::Result<Packet> {
    loop {
        match Packet::read(buf, MAX_PACKET) {
            Ok(packet) => return Ok(packet),
            Err(CodecError::InsufficientBytes(_)) => {}
            Err(e) => return Err(std::io::Error::other(format!("{e:?}"))),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
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
        let ping = if self.keep_alive.is_zero() {
            Duration::from_secs(3600 * 24)
        } else {
            self.keep_alive
        };
        let ended = loop {
            let mut out = Vec::new();
            tokio::select! {
                packet = read(&mut stream, &mut buf) => match packet {
                    Ok(packet) => self.incoming(packet, &mut out),
                    Err(_) => break true,
                },
                command = commands.recv() => match command {
                    Some(command) => {
                        if let Packet::Disconnect = command.packet {
                            let _ = write(&mut stream, &Packet::Disconnect).await;
                            if let Some(done) = command.done {
                                let _ = done.send(Packet::Disconnect);
                            }
                            break false;
                        }
                        out.push(self.outgoing(command));
                    }
                    None => break false,
                },
                () = tokio::time::sleep(ping) => out.push(Packet::PingReq),
            }
            for packet in out {
                if write(&mut stream, &packet).await.is_err() {
                    break;
                }
            }
        };
        if ended {
            self.lost();
        }
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
        let unread = {
            let mut state = shared.state();
            let mqtt = &mut state.mqtt;
            if mqtt.inbox.len() >= INBOX {
                mqtt.inbox.pop_front();
                mqtt.dropped += 1;
            }
            mqtt.inbox.push_back(message);
            mqtt.inbox.len()
        };
        shared.urc(self.terminal, format!("+UUMQTTC: 6,{unread}"));
    }

    /// The connection broke: the session is over (`+UUMQTTC: 0,101`, connection lost).
    fn lost(&self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
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
            }
            ours
        };
        if ours {
            tracing::info!("MQTT session lost");
            shared.urc(self.terminal, "+UUMQTTC: 0,101");
        }
    }
}
