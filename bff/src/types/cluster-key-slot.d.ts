/** cluster-key-slot (the CRC16 ioredis routes Cluster commands with) ships no types. */
declare module 'cluster-key-slot' {
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
