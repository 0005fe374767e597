/** HTTP routes of flash sales: the room's sales for anyone who may watch, the ledger for staff. */
import type { Router } from 'express';
import { roomIdParams, roomSaleParams } from '../../protocol/index.js';
import type { RoomDirectory, RoomMembership } from '../../core/domain.js';
import { notFound } from '../../core/errors.js';
import { parseBody, requireHttpUser } from '../../core/http-kit.js';
import { requireRole } from '../../core/roles.js';
import type { SaleQueries } from './sale-queries.js';

export function registerSaleRoutes(router: Router, rooms: RoomDirectory, membership: RoomMembership, queries: SaleQueries): void {
  router.get('/api/rooms/:roomId/sales', async (req, res) => {
    const { roomId } = parseBody(roomIdParams, req.params);
    await membership.requireReadable(roomId, req.user ?? null);
    res.json({ sales: await queries.list(roomId) });
  });

  // For operators: the counters next to a recount from the records, with the invariants checked.
  router.get('/api/rooms/:roomId/sales/:saleId/ledger', async (req, res) => {
    const { roomId, saleId } = parseBody(roomSaleParams, req.params);
    requireRole(await rooms.require(roomId), requireHttpUser(req), 'moderator', 'see the sales ledger');
    const ledger = await queries.ledger(roomId, saleId);
    if (!ledger) throw notFound('sale');
    res.json({ ledger });
  });
}
