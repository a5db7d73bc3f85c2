# FlowringState.cmake - owned by the State area; filled in as that area lands.
