// Fuzz target: proxy-status and proxy-config rendering of arbitrary bytes, as
// an admin port (or anything listening where one was expected) may answer.
// Either renders or returns an error; never crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ctl/proxy_config.h"
#include "ctl/proxy_status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using meshgate::ctl::ConfigSection;
  using meshgate::ctl::OutputFormat;
  for (OutputFormat format : {OutputFormat::kTable, OutputFormat::kJson}) {
    (void)meshgate::ctl::RenderProxyStatus(text, format);
    for (ConfigSection section : {ConfigSection::kListeners, ConfigSection::kRoutes,
                                  ConfigSection::kClusters, ConfigSection::kEndpoints}) {
      (void)meshgate::ctl::RenderProxyConfig(section, text, format);
    }
  }
  return 0;
}
