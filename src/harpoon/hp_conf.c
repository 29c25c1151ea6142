/*
 * hp_conf.c — group membership: the voter and learner lists, the changes
 * that move one server at a time, and their encoding in CONF entries.
 */
#include <string.h>

#include "harpoon/harpoon.h"

bool hp_conf_is_voter(const hp_conf *conf, hp_id id)
{
	for (uint32_t i = 0; i < conf->voter_count; i++)
		if (conf->voters[i] == id)
			return true;
	return false;
}

bool hp_conf_is_learner(const hp_conf *conf, hp_id id)
{
	for (uint32_t i = 0; i < conf->learner_count; i++)
		if (conf->learners[i] == id)
			return true;
	return false;
}

static void remove_id(hp_id *ids, uint32_t *count, hp_id id)
{
	for (uint32_t i = 0; i < *count; i++) {
		if (ids[i] == id) {
			memmove(&ids[i], &ids[i + 1], (*count - i - 1) * sizeof(*ids));
			(*count)--;
			return;
		}
	}
}

int hp_conf_apply(hp_conf *conf, hp_conf_op op, hp_id id)
{
	if (id == 0)
		return HP_ERR_INVALID;
	bool voter = hp_conf_is_voter(conf, id);
	bool learner = hp_conf_is_learner(conf, id);
	switch (op) {
	case HP_CONF_ADD_LEARNER:
		if (voter || learner || conf->voter_count + conf->learner_count >= HP_MAX_MEMBERS)
			return HP_ERR_INVALID;
		conf->learners[conf->learner_count++] = id;
		return 0;
	case HP_CONF_PROMOTE:
		if (!learner || conf->voter_count >= HP_MAX_VOTERS)
			return HP_ERR_INVALID;
		remove_id(conf->learners, &conf->learner_count, id);
		conf->voters[conf->voter_count++] = id;
		return 0;
	case HP_CONF_REMOVE:
		if (learner) {
			remove_id(conf->learners, &conf->learner_count, id);
			return 0;
		}
		/* A group never loses its last voter. */
		if (!voter || conf->voter_count <= 1)
			return HP_ERR_INVALID;
		remove_id(conf->voters, &conf->voter_count, id);
		return 0;
	}
	return HP_ERR_INVALID;
}

void hp_conf_change_encode(uint8_t out[HP_CONF_CHANGE_BYTES], hp_conf_op op, hp_id id)
{
	out[0] = (uint8_t)op;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(id >> (8 * i));
}

int hp_conf_change_decode(const uint8_t *data, uint32_t size_bytes, hp_conf_op *op,
                          hp_id *id)
{
	if (size_bytes != HP_CONF_CHANGE_BYTES || data == NULL)
		return HP_ERR_INVALID;
	if (data[0] < HP_CONF_ADD_LEARNER || data[0] > HP_CONF_REMOVE)
		return HP_ERR_INVALID;
	*op = (hp_conf_op)data[0];
	hp_id v = 0;
	for (int i = 0; i < 8; i++)
		v |= (hp_id)data[1 + i] << (8 * i);
	*id = v;
	return v ? 0 : HP_ERR_INVALID;
}
