/** Discord ids: snowflakes whose top bits are the creation time (discord.js derives createdTimestamp from them). */
const DISCORD_EPOCH = 1420070400000n;
let counter = 0n;

export function snowflake(at: number = Date.now()): string {
  counter = (counter + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | counter).toString();
}
