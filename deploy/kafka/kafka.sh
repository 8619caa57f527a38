#!/usr/bin/env bash
# A real, single-node Apache Kafka broker (KRaft, combined broker + controller) on
# 127.0.0.1, for machines without Docker. The official broker jars come from Maven
# Central through deploy/kafka/pom.xml and are cached between runs.
#
#   deploy/kafka/kafka.sh fetch     download the jars (once per machine)
#   deploy/kafka/kafka.sh start     format storage if needed, start, wait until it answers
#   deploy/kafka/kafka.sh stop      stop the broker started by `start`
#   deploy/kafka/kafka.sh status
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1),
# KAFKA_DATA_DIR (/tmp/dankjewel-kafka-$KAFKA_PORT), KAFKA_HEAP (512m),
# DANKJEWEL_CACHE (~/.cache/dankjewel).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
cache="${DANKJEWEL_CACHE:-$HOME/.cache/dankjewel}"
lib="$cache/kafka-$version/lib"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data="${KAFKA_DATA_DIR:-/tmp/dankjewel-kafka-$port}"
heap="${KAFKA_HEAP:-512m}"
pidfile="$data/broker.pid"
logfile="$data/broker.log"

fetch() {
  if [ -f "$lib/.complete" ]; then return; fi
  command -v mvn >/dev/null || { echo "kafka.sh: Maven (mvn) is needed to fetch the broker; apt-get install maven" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: a Java runtime (17+) is needed; apt-get install openjdk-17-jre-headless" >&2; exit 1; }
  echo "kafka.sh: fetching Apache Kafka $version broker jars into $lib" >&2
  rm -rf "$lib"; mkdir -p "$lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  fetch
  if running; then echo "kafka.sh: broker already running on 127.0.0.1:$port" >&2; return; fi
  mkdir -p "$data/logs"
  cat > "$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
PROPS
  cat > "$data/log4j2.properties" <<PROPS
rootLogger.level=WARN
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$logfile
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka.server.KafkaRaftServer
logger.kafka.level=INFO
PROPS
  local java_opts=(-Xms128m "-Xmx$heap" -XX:+UseG1GC -Djava.awt.headless=true
                   "-Dlog4j2.configurationFile=$data/log4j2.properties")
  if [ ! -f "$data/logs/meta.properties" ]; then
    java "${java_opts[@]}" -cp "$lib/*" kafka.tools.StorageTool format \
         -t "$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid)" \
         -c "$data/server.properties" >/dev/null
  fi
  nohup java "${java_opts[@]}" -cp "$lib/*" kafka.Kafka "$data/server.properties" \
        >"$data/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if answers && grep -q "started" "$logfile" 2>/dev/null; then
      echo "kafka.sh: Apache Kafka $version answers on 127.0.0.1:$port (data in $data)" >&2
      return
    fi
    if ! running; then
      echo "kafka.sh: broker exited during start; last lines of its log:" >&2
      tail -n 30 "$logfile" "$data/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: broker did not answer on 127.0.0.1:$port within 60 s" >&2
  tail -n 30 "$logfile" >&2 || true
  exit 1
}

stop() {
  if ! running; then rm -f "$pidfile"; return; fi
  local pid; pid="$(cat "$pidfile")"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "kafka.sh: broker on 127.0.0.1:$port stopped" >&2
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pidfile"), 127.0.0.1:$port)"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
