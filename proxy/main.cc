#include <cstdio>

int main() {
  std::fprintf(stderr, "proxy: not implemented yet\n");
  return 1;
}
