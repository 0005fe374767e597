/** The landing page: who is live, ranked by engagement. */
import './styles.css';
import { mountRoomList } from './room-list.js';
import { mountAccount } from './session.js';

mountAccount(() => {});
mountRoomList();
