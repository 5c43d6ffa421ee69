/** Meshes, sharding rules, collective insertion and the SPMD simulator build on this package. */
export {};
