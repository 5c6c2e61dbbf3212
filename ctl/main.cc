#include <cstdio>

int main() {
  std::fprintf(stderr, "ctl: not implemented yet\n");
  return 1;
}
