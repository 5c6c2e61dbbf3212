#include <cstdio>

int main() {
  std::fprintf(stderr, "operator: not implemented yet\n");
  return 1;
}
