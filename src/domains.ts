/** Every domain besides rooms, in the order their snapshot parts and guards run. */
import type { Domain, DomainDeps } from './core/domain.js';
import { ChatDomain } from './chat/chat-domain.js';
import { CommerceDomain } from './commerce/commerce-domain.js';
import { MediaDomain } from './media/media-domain.js';
import { SalesDomain } from './commerce/sales/sales-domain.js';
import { BuyNowDomain } from './commerce/buy-now/buy-now-domain.js';
import { OrdersDomain } from './commerce/orders/orders-domain.js';
import { AuctionsDomain } from './commerce/auctions/auctions-domain.js';
import { GiveawaysDomain } from './commerce/giveaways/giveaways-domain.js';
import { VouchersDomain } from './commerce/vouchers/vouchers-domain.js';

export function createDomains(deps: DomainDeps): Domain[] {
  // Buy-now and auctions sell through the sales machinery (holds, checkout, the orders stream;
  // an auction or giveaway winner's hold is a one-unit sale); orders (routes, webhooks) read what every
  // selling path writes.
  const orders = new OrdersDomain(deps);
  const sales = new SalesDomain(deps, { onOrder: (roomId) => orders.noteOrder(roomId) });
  const buyNow = new BuyNowDomain(deps, sales);
  const auctions = new AuctionsDomain(deps, { store: sales.store, queries: sales.queries });
  const domains: Domain[] = [new ChatDomain(deps), new CommerceDomain(deps, buyNow), sales, buyNow, auctions, orders, new GiveawaysDomain(deps, { store: sales.store, queries: sales.queries }), new VouchersDomain(deps)];
  // Media needs mediasoup worker processes; MEDIA_ENABLED=false runs without video.
  if (deps.config.MEDIA_ENABLED) domains.push(new MediaDomain(deps));
  return domains;
}
