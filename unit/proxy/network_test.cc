// Dispatcher and Connection over real loopback sockets.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/event/dispatcher.h"
#include "proxy/network/connection.h"
#include "proxy/network/listener.h"

namespace meshgate::proxy::network {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<event::Dispatcher> NewDispatcher() {
  auto d = event::Dispatcher::Create();
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(*d);
}

TEST(DispatcherTest, TimersFireInDeadlineOrderAndCanBeCancelled) {
  auto d = NewDispatcher();
  std::vector<int> fired;
  auto t1 = d->CreateTimer([&] { fired.push_back(1); });
  auto t2 = d->CreateTimer([&] { fired.push_back(2); });
  auto t3 = d->CreateTimer([&] { fired.push_back(3); });
  auto done = d->CreateTimer([&] { d->Exit(); });
  t1->Enable(20ms);
  t2->Enable(5ms);
  t3->Enable(10ms);
  t3->Disable();
  done->Enable(30ms);
  d->Run();
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

TEST(DispatcherTest, TimerDestroyedByAnotherTimersCallbackNeverFires) {
  auto d = NewDispatcher();
  bool victim_fired = false;
  auto victim = d->CreateTimer([&] { victim_fired = true; });
  auto killer = d->CreateTimer([&] { victim.reset(); });
  auto done = d->CreateTimer([&] { d->Exit(); });
  killer->Enable(1ms);
  victim->Enable(1ms);
  done->Enable(5ms);
  d->Run();
  EXPECT_FALSE(victim_fired);
}

TEST(DispatcherTest, PostFromAnotherThreadRunsOnLoop) {
  auto d = NewDispatcher();
  std::thread::id loop_thread;
  std::thread::id ran_on;
  std::thread poster([&] {
    d->Post([&] {
      ran_on = std::this_thread::get_id();
      d->Exit();
    });
  });
  loop_thread = std::this_thread::get_id();
  d->Run();
  poster.join();
  EXPECT_EQ(ran_on, loop_thread);
}

// An echo server: writes back whatever it reads.
class EchoSession : public ConnectionCallbacks {
 public:
  explicit EchoSession(std::unique_ptr<Connection> c) : conn(std::move(c)) {
    conn->SetCallbacks(this);
  }
  void OnData(Buffer& data, bool) override { conn->Write(data); }
  void OnEvent(ConnectionEvent e) override { events.push_back(e); }
  std::unique_ptr<Connection> conn;
  std::vector<ConnectionEvent> events;
};

class Client : public ConnectionCallbacks {
 public:
  void OnData(Buffer& data, bool end_stream) override {
    received += std::string(data.View());
    data.Clear();
    if (end_stream) saw_end_stream = true;
    if (on_data) on_data();
  }
  void OnEvent(ConnectionEvent e) override {
    events.push_back(e);
    if (on_event) on_event(e);
  }
  std::string received;
  bool saw_end_stream = false;
  std::vector<ConnectionEvent> events;
  std::function<void()> on_data;
  std::function<void(ConnectionEvent)> on_event;
};

TEST(ConnectionTest, EchoesBytesAndReportsRemoteClose) {
  auto d = NewDispatcher();
  std::vector<std::unique_ptr<EchoSession>> sessions;
  auto addr = Address::Parse("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto listener = TcpListener::Create(*d, *addr, true, [&](int fd) {
    sessions.push_back(std::make_unique<EchoSession>(
        Connection::FromAccepted(*d, fd, std::make_unique<PlaintextTransportSocket>())));
  });
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_NE((*listener)->address().port(), 0);

  Client client;
  auto conn = Connection::Connect(*d, (*listener)->address(),
                                  std::make_unique<PlaintextTransportSocket>(), 1000ms);
  conn->SetCallbacks(&client);
  std::string big(256 * 1024, 'x');  // larger than socket buffers: exercises partial writes
  conn->Write("hello ");
  conn->Write(big);
  client.on_data = [&] {
    if (client.received.size() == 6 + big.size()) conn->Close(Connection::CloseType::kFlushWrite);
  };
  client.on_event = [&](ConnectionEvent e) {
    if (e == ConnectionEvent::kLocalClose) d->Exit();
  };
  auto guard = d->CreateTimer([&] { d->Exit(); });
  guard->Enable(5000ms);
  d->Run();
  ASSERT_EQ(client.received.size(), 6 + big.size());
  EXPECT_EQ(client.received.substr(0, 6), "hello ");
  ASSERT_FALSE(client.events.empty());
  EXPECT_EQ(client.events.front(), ConnectionEvent::kConnected);
  EXPECT_EQ(client.events.back(), ConnectionEvent::kLocalClose);

  // The server side learns about the close on its next read.
  auto settle = d->CreateTimer([&] { d->Exit(); });
  settle->Enable(50ms);
  d->Run();
  ASSERT_EQ(sessions.size(), 1u);
  ASSERT_FALSE(sessions[0]->events.empty());
  EXPECT_EQ(sessions[0]->events.back(), ConnectionEvent::kRemoteClose);
}

TEST(ConnectionTest, ConnectToClosedPortFails) {
  auto d = NewDispatcher();
  auto addr = Address::Parse("127.0.0.1", 0);
  // Find a port nobody listens on: bind, read it, close.
  auto fd = ListenTcp(*addr, false);
  ASSERT_TRUE(fd.ok());
  auto bound = LocalAddress(*fd);
  ::close(*fd);
  Client client;
  client.on_event = [&](ConnectionEvent) { d->Exit(); };
  auto conn = Connection::Connect(*d, *bound, std::make_unique<PlaintextTransportSocket>(), 1000ms);
  conn->SetCallbacks(&client);
  d->Run();
  ASSERT_EQ(client.events.size(), 1u);
  EXPECT_EQ(client.events[0], ConnectionEvent::kConnectFailed);
}

TEST(ConnectionTest, ReadDisableHoldsDataUntilReEnabled) {
  auto d = NewDispatcher();
  std::unique_ptr<Connection> server;
  Client server_cb;
  auto addr = Address::Parse("127.0.0.1", 0);
  auto listener = TcpListener::Create(*d, *addr, true, [&](int fd) {
    server = Connection::FromAccepted(*d, fd, std::make_unique<PlaintextTransportSocket>());
    server->SetCallbacks(&server_cb);
    server->ReadDisable(true);
  });
  ASSERT_TRUE(listener.ok());
  Client client;
  auto conn = Connection::Connect(*d, (*listener)->address(),
                                  std::make_unique<PlaintextTransportSocket>(), 1000ms);
  conn->SetCallbacks(&client);
  conn->Write("held");
  auto check = d->CreateTimer([&] {
    EXPECT_EQ(server_cb.received, "");  // disabled: nothing delivered yet
    server->ReadDisable(false);
  });
  check->Enable(50ms);
  server_cb.on_data = [&] { d->Exit(); };
  auto guard = d->CreateTimer([&] { d->Exit(); });
  guard->Enable(5000ms);
  d->Run();
  EXPECT_EQ(server_cb.received, "held");
}

TEST(AddressTest, ParsesAndFormats) {
  auto v4 = Address::ParseHostPort("10.1.2.3:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "10.1.2.3:8080");
  auto v6 = Address::ParseHostPort("[::1]:443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "[::1]:443");
  EXPECT_FALSE(Address::ParseHostPort("no-port").ok());
  EXPECT_FALSE(Address::ParseHostPort("1.2.3.4:99999").ok());
  EXPECT_FALSE(Address::ParseHostPort("example.com:80").ok());
}

}  // namespace
}  // namespace meshgate::proxy::network
