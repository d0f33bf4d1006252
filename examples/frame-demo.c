#include "ws.h"
int main(void) { return 0; }
