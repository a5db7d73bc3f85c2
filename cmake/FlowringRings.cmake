# FlowringRings.cmake - owned by the Rings area; filled in as that area lands.
