// The request path's building blocks where they were made cheaper: the
// dispatcher's timer heap (order, moves, cancellation from callbacks) and a
// Connection writing straight from the caller's bytes (what the socket does
// not take must be kept as it was, in order, with end of stream last). Real
// dispatchers and real loopback sockets throughout.
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"

namespace meshgate::proxy {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<event::Dispatcher> NewDispatcher() {
  auto d = event::Dispatcher::Create();
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(*d);
}

TEST(TimerHeapTest, ManyTimersFireByDeadlineThenArmingOrder) {
  auto d = NewDispatcher();
  std::mt19937 rng(7);
  constexpr int kTimers = 300;
  std::vector<int> fired;
  std::vector<std::unique_ptr<event::Timer>> timers;
  std::vector<int> delay_ms(kTimers);
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back(d->CreateTimer([&fired, i] { fired.push_back(i); }));
  }
  // Arm in a shuffled order; then cancel some and re-arm others, which moves
  // them behind everything already armed with the same delay.
  std::vector<int> arming(kTimers);
  for (int i = 0; i < kTimers; ++i) arming[i] = i;
  std::shuffle(arming.begin(), arming.end(), rng);
  std::vector<int> order;  // the expected arming order of timers still armed
  for (int i : arming) {
    delay_ms[i] = static_cast<int>(rng() % 4) * 20;
    timers[i]->Enable(std::chrono::milliseconds(delay_ms[i]));
    order.push_back(i);
  }
  for (int k = 0; k < kTimers; k += 7) {
    timers[arming[k]]->Disable();
    EXPECT_FALSE(timers[arming[k]]->enabled());
    order.erase(std::find(order.begin(), order.end(), arming[k]));
  }
  for (int k = 3; k < kTimers; k += 11) {
    int i = arming[k];
    if (!timers[i]->enabled()) continue;
    timers[i]->Enable(std::chrono::milliseconds(delay_ms[i]));
    order.erase(std::find(order.begin(), order.end(), i));
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return delay_ms[a] < delay_ms[b]; });
  auto done = d->CreateTimer([&] { d->Exit(); });
  done->Enable(150ms);
  d->Run();
  EXPECT_EQ(fired, order);
  for (const auto& timer : timers) EXPECT_FALSE(timer->enabled());
}

TEST(TimerHeapTest, CallbacksMayRearmCancelAndDestroyTimers) {
  auto d = NewDispatcher();
  std::vector<std::string> fired;
  std::unique_ptr<event::Timer> victim;
  std::unique_ptr<event::Timer> later;
  int rearms = 0;
  std::unique_ptr<event::Timer> repeating;
  repeating = d->CreateTimer([&] {
    fired.push_back("repeat");
    if (++rearms < 3) repeating->Enable(0ms);
  });
  auto killer = d->CreateTimer([&] {
    fired.push_back("killer");
    victim.reset();      // due at the same time, armed after us: must not run
    later->Disable();    // cancelled while others are queued around it
    later->Enable(1ms);  // and armed again: runs once, after the rest
  });
  victim = d->CreateTimer([&] { fired.push_back("victim"); });
  later = d->CreateTimer([&] { fired.push_back("later"); });
  auto self_destroying = d->CreateTimer([] {});
  self_destroying = d->CreateTimer([&] {
    fired.push_back("self");
    self_destroying.reset();
  });
  killer->Enable(0ms);
  victim->Enable(0ms);
  later->Enable(0ms);
  self_destroying->Enable(0ms);
  repeating->Enable(0ms);
  auto done = d->CreateTimer([&] { d->Exit(); });
  done->Enable(30ms);
  d->Run();
  EXPECT_EQ(fired,
            (std::vector<std::string>{"killer", "self", "repeat", "repeat", "repeat", "later"}));
  EXPECT_EQ(self_destroying, nullptr);
}

class Receiver : public network::ConnectionCallbacks {
 public:
  void OnData(network::Buffer& data, bool end_stream) override {
    received += std::string(data.View());
    data.Clear();
    if (end_stream) end_stream_after = received.size();
  }
  void OnEvent(network::ConnectionEvent event) override { events.push_back(event); }
  std::string received;
  size_t end_stream_after = 0;  // bytes received when end of stream came; 0 if it did not
  std::vector<network::ConnectionEvent> events;
};

class Sender : public network::ConnectionCallbacks {
 public:
  void OnData(network::Buffer& data, bool) override { data.Clear(); }
  void OnEvent(network::ConnectionEvent event) override { events.push_back(event); }
  std::vector<network::ConnectionEvent> events;
};

// Writes larger than the socket takes at once: the direct write sends part
// from the caller's bytes and must keep a copy of the rest, because the
// caller reuses its storage as soon as Write returns.
TEST(WriteFromViewTest, KeepsWhatTheSocketDidNotTakeAndEndsTheStreamLast) {
  auto d = NewDispatcher();
  std::unique_ptr<network::Connection> writer_conn;
  Sender sender;
  auto addr = network::Address::Parse("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto listener = network::TcpListener::Create(*d, *addr, true, [&](int fd) {
    // A small send buffer, set before any byte moves, so that writes go
    // out in part.
    int small = 16 * 1024;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    writer_conn = network::Connection::FromAccepted(
        *d, fd, std::make_unique<network::PlaintextTransportSocket>());
    writer_conn->SetCallbacks(&sender);
  });
  ASSERT_TRUE(listener.ok()) << listener.status();

  Receiver receiver;
  auto reader = network::Connection::Connect(
      *d, (*listener)->address(), std::make_unique<network::PlaintextTransportSocket>(), 1000ms);
  reader->EnableHalfClose(true);
  reader->SetCallbacks(&receiver);
  reader->ReadDisable(true);  // let the sockets fill up first

  std::string expected;
  std::string scratch;  // one storage reused for every write, like a codec's output
  std::mt19937 rng(11);
  size_t buffered_after_writes = 0;
  auto writer = d->CreateTimer([] {});
  writer = d->CreateTimer([&] {
    if (writer_conn == nullptr) {
      writer->Enable(1ms);
      return;
    }
    for (int i = 0; i < 64; ++i) {
      scratch.assign(16 * 1024 + rng() % 4096, static_cast<char>('a' + i % 26));
      expected += scratch;
      writer_conn->Write(scratch, /*end_stream=*/i == 63);
      scratch.assign(scratch.size(), '#');  // the caller's storage changes under us
    }
    buffered_after_writes = writer_conn->write_buffer_size();
    reader->ReadDisable(false);
  });
  writer->Enable(1ms);
  auto check = d->CreateTimer([] {});
  check = d->CreateTimer([&] {
    if (receiver.end_stream_after != 0) {
      d->Exit();
      return;
    }
    check->Enable(5ms);
  });
  check->Enable(5ms);
  auto guard = d->CreateTimer([&] { d->Exit(); });
  guard->Enable(10'000ms);
  d->Run();
  EXPECT_GT(buffered_after_writes, 0u) << "the socket took everything: no partial write tested";
  ASSERT_EQ(receiver.received.size(), expected.size());
  EXPECT_TRUE(receiver.received == expected) << "bytes reordered or overwritten";
  EXPECT_EQ(receiver.end_stream_after, expected.size());
  EXPECT_EQ(writer_conn->write_buffer_size(), 0u);
}

// Small writes on an idle connection go out whole from the caller's bytes;
// interleaved with buffered ones (while connecting), order is preserved.
TEST(WriteFromViewTest, WritesBeforeAndAfterConnectArriveInOrder) {
  auto d = NewDispatcher();
  std::unique_ptr<network::Connection> server;
  Receiver receiver;
  auto addr = network::Address::Parse("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto listener = network::TcpListener::Create(*d, *addr, true, [&](int fd) {
    server = network::Connection::FromAccepted(
        *d, fd, std::make_unique<network::PlaintextTransportSocket>());
    server->EnableHalfClose(true);
    server->SetCallbacks(&receiver);
  });
  ASSERT_TRUE(listener.ok()) << listener.status();
  Sender sender;
  auto client = network::Connection::Connect(
      *d, (*listener)->address(), std::make_unique<network::PlaintextTransportSocket>(), 1000ms);
  client->SetCallbacks(&sender);
  client->Write("queued-while-connecting;");  // buffered: not connected yet
  auto more = d->CreateTimer([] {});
  more = d->CreateTimer([&] {
    if (!client->connected()) {
      more->Enable(1ms);
      return;
    }
    client->Write("direct-1;");
    client->Write(std::string_view("direct-2;"), /*end_stream=*/true);
  });
  more->Enable(1ms);
  auto check = d->CreateTimer([] {});
  check = d->CreateTimer([&] {
    if (receiver.end_stream_after != 0) {
      d->Exit();
      return;
    }
    check->Enable(5ms);
  });
  check->Enable(5ms);
  auto guard = d->CreateTimer([&] { d->Exit(); });
  guard->Enable(5000ms);
  d->Run();
  EXPECT_EQ(receiver.received, "queued-while-connecting;direct-1;direct-2;");
  EXPECT_EQ(receiver.end_stream_after, receiver.received.size());
}

}  // namespace
}  // namespace meshgate::proxy
