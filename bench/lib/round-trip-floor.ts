import net from "node:net";
import { startScript } from "./processes";
import { latency, nowMs, type Latency } from "./stats";

/**
 * The machine's floor for any hop: round trips of one small message between this process and an echo
 * server in another, over loopback TCP, one at a time with a pause between them (as an idle call would
 * be). A gateway adds one such round trip (gateway → handler → gateway) to every call, so its p99 here is
 * what the hop's tail cannot go below on this machine.
 */
export async function roundTripFloor(options: { roundTrips: number; pauseMs: number }): Promise<Latency> {
  const echo = await startScript("bench/servers/echo-server.js", []);
  const socket = net.connect(Number(echo.line.split(" ")[1]), "127.0.0.1");
  socket.setNoDelay(true);
  try {
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const samples: number[] = [];
    for (let i = 0; i < options.roundTrips; i++) {
      const started = nowMs();
      await new Promise<void>((resolve) => {
        socket.once("data", () => resolve());
        socket.write("x");
      });
      samples.push(nowMs() - started);
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
    return latency(samples);
  } finally {
    socket.destroy();
    await echo.stop();
  }
}
