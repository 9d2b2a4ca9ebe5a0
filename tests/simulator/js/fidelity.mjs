// SPDX-License-Identifier: GPL-2.0-or-later
// Reads a simulated terminal with zkteco-js (an independent client) and prints what it got
// as one JSON line for tests/simulator/test_zkteco_js.py. Usage: node fidelity.mjs HOST PORT
import Zkteco from "zkteco-js";

const [host, port] = process.argv.slice(2);
const device = new Zkteco(host, Number(port), 5200, 5000);
try {
  await device.createSocket();
  const info = await device.getInfo();
  const serial = await device.getSerialNumber();
  const users = await device.getUsers();
  const logs = await device.getAttendances();
  const line = JSON.stringify({
    info,
    serial,
    users: (users.data ?? users).map((u) => ({ userId: u.userId, name: u.name })),
    attendance: (logs.data ?? logs).map((a) => ({
      user_id: a.user_id,
      record_time: new Date(a.record_time).toISOString(),
    })),
  });
  await device.disconnect();
  // Exit only once the line is flushed: process.exit() can cut a piped stdout short.
  await new Promise((resolve) => process.stdout.write(line + "\n", resolve));
  process.exit(0);
} catch (error) {
  process.stderr.write(`zkteco-js failed: ${error?.message ?? error}\n`);
  process.exit(1);
}
